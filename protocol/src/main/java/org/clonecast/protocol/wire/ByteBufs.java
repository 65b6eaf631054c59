package org.clonecast.protocol.wire;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import java.util.function.Function;

/**
 * {@link ByteBuf} helpers for decoders: length checks with precise messages, the top-level
 * exception translation every {@code decode} uses, and hex dumps for DEBUG logs.
 *
 * <p>Stateless; thread-safe (the buffers passed in are not).
 */
public final class ByteBufs {
  private ByteBufs() {}

  /**
   * Requires at least {@code n} readable bytes.
   *
   * @param what the message or field name used in the exception, e.g. {@code "REQACK"}
   * @throws MalformedPacketException {@code "REQACK length 100, want 144"}
   */
  public static void requireReadable(ByteBuf in, int n, String what) {
    if (in.readableBytes() < n) {
      throw new MalformedPacketException(what + " length " + in.readableBytes() + ", want " + n);
    }
  }

  /**
   * Reads {@code n} bytes into a new array after {@link #requireReadable checking} they are there.
   */
  public static byte[] readBytes(ByteBuf in, int n, String what) {
    requireReadable(in, n, what);
    byte[] bytes = new byte[n];
    in.readBytes(bytes);
    return bytes;
  }

  /**
   * Runs a decoder body and turns every failure it may raise on hostile input into a {@link
   * MalformedPacketException}: an {@link IndexOutOfBoundsException} from a short buffer, and an
   * {@link IllegalArgumentException} from a record's compact constructor rejecting a field. On
   * failure the reader index is restored, so the caller can still dump the whole packet.
   *
   * @param what the message name prefixed to the exception text, e.g. {@code "REQACK"}
   */
  public static <T> T decoding(String what, ByteBuf in, Function<ByteBuf, T> body) {
    int start = in.readerIndex();
    try {
      return body.apply(in);
    } catch (MalformedPacketException e) {
      in.readerIndex(start);
      throw e;
    } catch (IndexOutOfBoundsException e) {
      in.readerIndex(start);
      throw new MalformedPacketException(what + " truncated: " + e.getMessage(), e);
    } catch (IllegalArgumentException e) {
      in.readerIndex(start);
      throw new MalformedPacketException(what + ": " + e.getMessage(), e);
    }
  }

  /**
   * @return the readable bytes as lower-case hex; does not move the reader index
   */
  public static String hexDump(ByteBuf buf) {
    return ByteBufUtil.hexDump(buf);
  }

  /**
   * @return a multi-line offset/hex/ASCII dump of the readable bytes for DEBUG logs
   */
  public static String prettyHexDump(ByteBuf buf) {
    return ByteBufUtil.prettyHexDump(buf);
  }

  /**
   * @return the readable bytes copied into a new array; does not move the reader index
   */
  public static byte[] toByteArray(ByteBuf buf) {
    return ByteBufUtil.getBytes(buf);
  }

  /**
   * Requires {@code value} to fit an unsigned 16-bit field; for compact constructors.
   *
   * @throws IllegalArgumentException {@code "blocksize 70000 outside u16"}
   */
  public static int requireU16(int value, String field) {
    if ((value & ~0xFFFF) != 0) {
      throw new IllegalArgumentException(field + " " + value + " outside u16");
    }
    return value;
  }

  /**
   * Requires {@code value} to be ≥ 0; for counters that the spec defines from 0.
   *
   * @throws IllegalArgumentException {@code "sliceNo -1 negative"}
   */
  public static int requireNonNegative(int value, String field) {
    if (value < 0) {
      throw new IllegalArgumentException(field + " " + value + " negative");
    }
    return value;
  }
}
