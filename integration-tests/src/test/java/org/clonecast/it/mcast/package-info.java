/**
 * Native multicast sessions in the namespace lab: real sender, real agents, real loss and shaping.
 */
package org.clonecast.it.mcast;
