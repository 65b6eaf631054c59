/**
 * The driver core shared by the native multicast sender ({@code server.mcast}) and the
 * udpcast-compatible one ({@code server.udpcast}): {@link org.clonecast.server.send.SendDriver}
 * (the event loop, the pump, loss sampling, shutdown, counters), {@link
 * org.clonecast.server.send.DatagramBatcher} (GSO batching) and {@link
 * org.clonecast.server.send.SendTimes} (where the time went). Each sender keeps only what its
 * protocol decides. The pacer they share is the pure {@link org.clonecast.protocol.pace.Pacer}.
 */
package org.clonecast.server.send;
