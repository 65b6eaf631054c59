/**
 * Wire-format building blocks shared by every protocol package: {@link
 * org.clonecast.protocol.wire.MalformedPacketException}, the {@link
 * org.clonecast.protocol.wire.MacAddress} value type, and small {@code ByteBuf}/{@code byte[]}
 * helpers ({@link org.clonecast.protocol.wire.ByteBufs}, {@link org.clonecast.protocol.wire.Hex}).
 *
 * <p>Pure code: no sockets, threads or clocks. Everything here is immutable or stateless and
 * therefore thread-safe.
 */
package org.clonecast.protocol.wire;
