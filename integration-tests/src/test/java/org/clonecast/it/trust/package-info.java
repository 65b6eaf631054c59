/**
 * Adversarial tests in the namespace lab: a rogue host on the segment beside real clients (issue
 * 13).
 */
package org.clonecast.it.trust;
