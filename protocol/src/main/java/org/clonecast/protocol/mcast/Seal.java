package org.clonecast.protocol.mcast;

import io.netty.buffer.ByteBuf;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Optional;

/**
 * The authentication trailer of an ANNOUNCE, STATUS or NAK (docs/protocol.md §2, "Seals"): a
 * counter that only grows, so a recorded packet cannot be played again, and the first {@link
 * #TAG_BYTES} bytes of HMAC-SHA256 over every byte of the packet before the tag, under the key
 * handed over in WELCOME. Made and checked by {@link McastAuth}. Immutable.
 *
 * @param counter u32, strictly increasing per sender of sealed packets
 */
public record Seal(long counter, byte[] tag) {
  /** Bytes of the truncated HMAC: 128 bits, as many as a forger must guess. */
  public static final int TAG_BYTES = 16;

  /** Bytes of the whole trailer: u32 counter, tag. */
  public static final int BYTES = 4 + TAG_BYTES;

  public Seal {
    if (counter < 0 || counter > 0xFFFFFFFFL)
      throw new IllegalArgumentException("seal counter " + counter + " out of u32");
    if (tag.length != TAG_BYTES)
      throw new IllegalArgumentException("seal tag of " + tag.length + " bytes, want " + TAG_BYTES);
    tag = tag.clone();
  }

  @Override
  public byte[] tag() {
    return tag.clone();
  }

  /** Reads a trailer when one is there (at least {@link #BYTES} bytes left); none otherwise. */
  static Optional<Seal> decodeIfPresent(ByteBuf in) {
    if (!in.isReadable(BYTES)) return Optional.empty();
    long counter = in.readUnsignedInt();
    byte[] tag = new byte[TAG_BYTES];
    in.readBytes(tag);
    return Optional.of(new Seal(counter, tag));
  }

  void encode(ByteBuf out) {
    out.writeInt((int) counter); // seal counter
    out.writeBytes(tag); // truncated HMAC-SHA256
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Seal s && s.counter == counter && Arrays.equals(s.tag, tag);
  }

  @Override
  public int hashCode() {
    return Long.hashCode(counter) * 31 + Arrays.hashCode(tag);
  }

  @Override
  public String toString() {
    return "Seal[counter=" + counter + ", tag=" + HexFormat.of().formatHex(tag) + "]";
  }
}
