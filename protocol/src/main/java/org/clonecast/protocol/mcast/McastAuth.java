package org.clonecast.protocol.mcast;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.Optional;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Seals and checks ANNOUNCE, STATUS and NAK packets (docs/protocol.md §2, "Seals"). The tag is
 * HMAC-SHA256 over the packet as encoded without its seal, followed by the seal's u32 counter,
 * truncated to {@link Seal#TAG_BYTES} bytes. Checking re-encodes the decoded packet, so it needs
 * no copy of the datagram (a decoded packet encodes to the bytes it was read from, less any
 * field a later version appended after the seal, and reserved bytes it does not read: a change
 * there changes nothing the packet means).
 *
 * <p>Stateless and thread-safe; a {@link Mac} is made per call (cheap next to a datagram).
 */
public final class McastAuth {
  /** Bytes of a session or receiver key. */
  public static final int KEY_BYTES = 32;

  private McastAuth() {}

  /** {@code packet} with a seal made under {@code key} with {@code counter}. */
  public static Announce seal(Announce packet, byte[] key, long counter) {
    return packet.withSeal(Optional.of(new Seal(counter, tag(key, packet.withSeal(Optional.empty()), counter))));
  }

  public static Status seal(Status packet, byte[] key, long counter) {
    return packet.withSeal(Optional.of(new Seal(counter, tag(key, packet.withSeal(Optional.empty()), counter))));
  }

  public static Nak seal(Nak packet, byte[] key, long counter) {
    return packet.withSeal(Optional.of(new Seal(counter, tag(key, packet.withSeal(Optional.empty()), counter))));
  }

  /** True when {@code seal} is the seal of {@code unsealed} under {@code key}; compared in constant time. */
  public static boolean verify(McastPacket unsealed, Seal seal, byte[] key) {
    return MessageDigest.isEqual(tag(key, unsealed, seal.counter()), seal.tag());
  }

  private static byte[] tag(byte[] key, McastPacket unsealed, long counter) {
    if (key.length != KEY_BYTES) throw new IllegalArgumentException("key of " + key.length + " bytes, want " + KEY_BYTES);
    ByteBuf b = Unpooled.buffer(256);
    try {
      unsealed.encode(b);
      b.writeInt((int) counter);
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      mac.update(b.nioBuffer());
      return Arrays.copyOf(mac.doFinal(), Seal.TAG_BYTES);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 unavailable in this JRE", e); // every Java SE runtime has it
    } finally {
      b.release();
    }
  }
}
