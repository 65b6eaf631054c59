/**
 * The chunked image format (see {@code docs/image-format.md}): a disk cut into fixed logical
 * chunks, each stored on its own (zstd, raw, or not at all when it is all zeros), described by a
 * {@link org.clonecast.protocol.image.Manifest}.
 *
 * <p>Pure: encoders and decoders over {@link io.netty.buffer.ByteBuf} and byte arrays, no files,
 * sockets, threads or clocks. The manifest is also sent to receivers over the network, so every
 * decoder here treats its input as hostile and throws only {@link
 * org.clonecast.protocol.image.MalformedImageException}.
 */
package org.clonecast.protocol.image;
