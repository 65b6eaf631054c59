/**
 * The daemon's read-only TFTP server (docs/tftp.md) on Netty: {@link
 * org.clonecast.server.tftp.TftpServer} answers requests on port 69 and runs each transfer on its
 * own ephemeral-port channel, driven by the pure {@link org.clonecast.protocol.tftp.TftpTransfer};
 * {@link org.clonecast.server.tftp.TftpRoot} confines file names to the root; {@link
 * org.clonecast.server.tftp.IpxeLoaders} puts Debian's iPXE loaders there at start.
 */
package org.clonecast.server.tftp;
