package org.clonecast.protocol.mcast;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.Optional;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Seals and checks ANNOUNCE, STATUS and NAK packets (docs/protocol.md §2, "Seals"). The tag is
 * HMAC-SHA256 over the packet as encoded without its seal, followed by the seal's u32 counter,
 * truncated to {@link Seal#TAG_BYTES} bytes. Checking re-encodes the decoded packet, so it needs no
 * copy of the datagram (a decoded packet encodes to the bytes it was read from, less any field a
 * later version appended after the seal, and reserved bytes it does not read: a change there
 * changes nothing the packet means).
 *
 * <p>Stateless and thread-safe; a {@link Mac} is made per call (cheap next to a datagram).
 */
public final class McastAuth {
  /** Bytes of a session or receiver key. */
  public static final int KEY_BYTES = 32;

  /** Bytes of a HELLO's node proof. */
  public static final int PROOF_BYTES = 32;

  private static final byte[] JOIN_LABEL = "clonecast join 1".getBytes(StandardCharsets.US_ASCII);

  private McastAuth() {}

  /** {@code packet} with a seal made under {@code key} with {@code counter}. */
  public static Announce seal(Announce packet, byte[] key, long counter) {
    return packet.withSeal(
        Optional.of(new Seal(counter, tag(key, packet.withSeal(Optional.empty()), counter))));
  }

  public static Status seal(Status packet, byte[] key, long counter) {
    return packet.withSeal(
        Optional.of(new Seal(counter, tag(key, packet.withSeal(Optional.empty()), counter))));
  }

  public static Nak seal(Nak packet, byte[] key, long counter) {
    return packet.withSeal(
        Optional.of(new Seal(counter, tag(key, packet.withSeal(Optional.empty()), counter))));
  }

  /**
   * True when {@code seal} is the seal of {@code unsealed} under {@code key}; compared in constant
   * time.
   */
  public static boolean verify(McastPacket unsealed, Seal seal, byte[] key) {
    return MessageDigest.isEqual(tag(key, unsealed, seal.counter()), seal.tag());
  }

  /**
   * A HELLO's node proof: HMAC-SHA256 under {@code secretHash} (SHA-256 of the node's per-boot
   * secret, which the daemon stores and the node can compute) over "clonecast join 1", the daemon's
   * session number and the name the receiver joins as. Binds the join to that node, session and
   * name: a proof taken from one session does not open another.
   */
  public static byte[] joinProof(byte[] secretHash, long session, String name) {
    if (secretHash.length != 32)
      throw new IllegalArgumentException("secret hash of " + secretHash.length + " bytes, want 32");
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(secretHash, "HmacSHA256"));
      mac.update(JOIN_LABEL);
      mac.update(ByteBuffer.allocate(8).putLong(0, session));
      mac.update(name.getBytes(StandardCharsets.UTF_8));
      return mac.doFinal();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 unavailable in this JRE", e);
    }
  }

  /**
   * Whether {@code proof} is {@link #joinProof}{@code (secretHash, session, name)}; compared in
   * constant time.
   */
  public static boolean verifyJoin(byte[] secretHash, long session, String name, byte[] proof) {
    return MessageDigest.isEqual(joinProof(secretHash, session, name), proof);
  }

  private static byte[] tag(byte[] key, McastPacket unsealed, long counter) {
    if (key.length != KEY_BYTES)
      throw new IllegalArgumentException("key of " + key.length + " bytes, want " + KEY_BYTES);
    ByteBuf b = Unpooled.buffer(256);
    try {
      unsealed.encode(b);
      b.writeInt((int) counter);
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      mac.update(b.nioBuffer());
      return Arrays.copyOf(mac.doFinal(), Seal.TAG_BYTES);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(
          "HmacSHA256 unavailable in this JRE", e); // every Java SE runtime has it
    } finally {
      b.release();
    }
  }
}
