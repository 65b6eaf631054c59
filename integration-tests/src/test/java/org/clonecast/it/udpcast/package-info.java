/**
 * Interop ITs between clonecast's udpcast mode and the stock udp-sender/udp-receiver, in the
 * namespace lab.
 */
package org.clonecast.it.udpcast;
