/**
 * The two IPv6 Neighbor Discovery messages (RFC 4861 §4.1, §4.2) the head node speaks so that iPXE
 * does not wait for IPv6 autoconfiguration on the boot LAN: Router Solicitation in, Router
 * Advertisement out, and the pure schedule that decides when to advertise. No sockets or clocks.
 */
package org.clonecast.protocol.ndp;
