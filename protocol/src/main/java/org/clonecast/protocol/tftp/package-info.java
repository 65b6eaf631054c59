/**
 * TFTP (RFC 1350) with option negotiation (RFC 2347 OACK), {@code blksize} (RFC 2348), {@code
 * tsize} and {@code timeout} (RFC 2349) and {@code windowsize} (RFC 7440): one record per message
 * behind the sealed {@link org.clonecast.protocol.tftp.TftpPacket}, and {@link
 * org.clonecast.protocol.tftp.TftpTransfer}, the pure state machine of one read transfer
 * (negotiation, windowed sending, retransmission, block-number rollover).
 *
 * <p>Golden bytes come from real firmware (iPXE, EDK2, pxelinux) in docs/ref/captures.md. Pure
 * code: no sockets, threads or clocks. The messages are immutable (DATA shares its payload with the
 * input buffer, see {@link org.clonecast.protocol.tftp.TftpData}); a transfer is not thread-safe.
 */
package org.clonecast.protocol.tftp;
