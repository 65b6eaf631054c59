/**
 * Cluster DNS in the namespace lab: dig against {@code clonecast serve}, and a real BIND receiving
 * dynamic updates.
 */
package org.clonecast.it.dns;
