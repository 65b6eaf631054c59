/**
 * The driver core shared by the native multicast sender ({@code server.mcast}) and the
 * udpcast-compatible one ({@code server.udpcast}): what puts their packets on the wire, whatever
 * the protocol. The pacer they share is the pure {@link org.clonecast.protocol.pace.Pacer}.
 */
package org.clonecast.server.send;
