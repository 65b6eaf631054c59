/**
 * udpcast 20120424 wire compatibility (docs/ref/udpcast-protocol.md §1): one record per message of
 * §1.2 behind the sealed {@link org.clonecast.protocol.udpcast.UdpcastMessage}, capability bits and
 * constants ({@link org.clonecast.protocol.udpcast.Udpcast}), the 1024-bit maps of REQACK and
 * RETRANSMIT ({@link org.clonecast.protocol.udpcast.Bitmap1024}) and the FEC stripe layout of §1.10
 * ({@link org.clonecast.protocol.udpcast.UdpcastFecLayout}).
 *
 * <p>Every layout was checked against captures of the stock Debian binaries (golden tests under
 * {@code src/test/resources/golden/udpcast}). Pure code: no sockets, threads or clocks; all types
 * are immutable except where a record carries a {@code ByteBuf} payload slice (see {@link
 * org.clonecast.protocol.udpcast.Data}).
 */
package org.clonecast.protocol.udpcast;
