package org.clonecast.protocol.mcast;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.clonecast.protocol.image.MalformedImageException;
import org.clonecast.protocol.image.Manifest;
import org.clonecast.protocol.image.ManifestSignature;
import org.clonecast.protocol.wire.MalformedPacketException;

/**
 * Frames of the per-receiver TCP control connection (docs/protocol.md §3). On the wire each frame
 * is a u32 length followed by the bytes {@link #encode} writes (a type byte, then the body); the
 * length is added and removed by the channel pipeline. Decoders ignore trailing bytes, so later
 * versions can append fields.
 */
public sealed interface ControlMessage {

  int TYPE_HELLO = 1;
  int TYPE_WELCOME = 2;
  int TYPE_NEED = 3;
  int TYPE_DONE = 4;
  int TYPE_FINISHED = 5;
  int TYPE_END = 6;
  int TYPE_CHECKED = 7;

  /** Longest frame either side accepts: a manifest for a multi-terabyte disk fits. */
  int MAX_FRAME = 256 << 20;

  /** Longest string field. */
  int MAX_STRING = 4096;

  void encode(ByteBuf out);

  /** Decodes one frame (without its length prefix). */
  static ControlMessage decode(ByteBuf in) {
    try {
      int type = in.readUnsignedByte();
      return switch (type) {
        case TYPE_HELLO -> Hello.decodeBody(in);
        case TYPE_WELCOME -> Welcome.decodeBody(in);
        case TYPE_NEED -> Need.decodeBody(in);
        case TYPE_DONE -> Done.decodeBody(in);
        case TYPE_FINISHED -> Finished.decodeBody(in);
        case TYPE_END -> End.decodeBody(in);
        case TYPE_CHECKED -> Checked.decodeBody(in);
        default -> throw new MalformedPacketException("unknown control frame type " + type);
      };
    } catch (IndexOutOfBoundsException e) {
      throw new MalformedPacketException("control frame truncated: " + e.getMessage());
    } catch (MalformedImageException e) {
      throw new MalformedPacketException("WELCOME manifest: " + e.getMessage());
    }
  }

  private static void writeString(ByteBuf out, String s) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    if (b.length > MAX_STRING) b = Arrays.copyOf(b, MAX_STRING);
    out.writeShort(b.length);
    out.writeBytes(b);
  }

  private static String readString(ByteBuf in, String what) {
    int len = in.readUnsignedShort();
    if (len > MAX_STRING)
      throw new MalformedPacketException(what + " length " + len + " > " + MAX_STRING);
    return in.readCharSequence(len, StandardCharsets.UTF_8).toString();
  }

  /**
   * Receiver → sender, first frame: who I am and what I speak; with {@link
   * McastPacket#CAP_NODE_PROOF}, proof that I hold the node's per-boot secret ({@link
   * McastAuth#joinProof}) after the name.
   */
  record Hello(int version, int capabilities, String name, Optional<byte[]> proof)
      implements ControlMessage {
    /** A HELLO without node proof. */
    public Hello(int version, int capabilities, String name) {
      this(version, capabilities & ~McastPacket.CAP_NODE_PROOF, name, Optional.empty());
    }

    public Hello {
      Objects.requireNonNull(name, "name");
      proof = proof.map(byte[]::clone);
      if (proof.isPresent() != ((capabilities & McastPacket.CAP_NODE_PROOF) != 0)) {
        throw new IllegalArgumentException(
            "proof present exactly when CAP_NODE_PROOF is set, caps 0x"
                + Integer.toHexString(capabilities));
      }
      if (proof.isPresent() && proof.get().length != McastAuth.PROOF_BYTES) {
        throw new IllegalArgumentException(
            "proof of " + proof.get().length + " bytes, want " + McastAuth.PROOF_BYTES);
      }
    }

    @Override
    public Optional<byte[]> proof() {
      return proof.map(byte[]::clone);
    }

    static Hello decodeBody(ByteBuf in) {
      int version = in.readUnsignedShort();
      int caps = in.readInt();
      String name = readString(in, "HELLO name");
      Optional<byte[]> proof = Optional.empty();
      if ((caps & McastPacket.CAP_NODE_PROOF) != 0) {
        if (!in.isReadable(McastAuth.PROOF_BYTES)) {
          throw new MalformedPacketException(
              "HELLO says it proves its node but carries "
                  + in.readableBytes()
                  + " bytes, want "
                  + McastAuth.PROOF_BYTES);
        }
        byte[] p = new byte[McastAuth.PROOF_BYTES];
        in.readBytes(p);
        proof = Optional.of(p);
      }
      return new Hello(version, caps, name, proof);
    }

    @Override
    public void encode(ByteBuf out) {
      out.writeByte(TYPE_HELLO); // type
      out.writeShort(version); // protocol version
      out.writeInt(capabilities); // capability bits
      writeString(out, name); // receiver name (hostname)
      proof.ifPresent(out::writeBytes); // node proof: HMAC-SHA256 under the node secret's hash
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Hello h
          && h.version == version
          && h.capabilities == capabilities
          && h.name.equals(name)
          && h.proof.isPresent() == proof.isPresent()
          && (proof.isEmpty() || Arrays.equals(h.proof.get(), proof.get()));
    }

    @Override
    public int hashCode() {
      return Objects.hash(version, capabilities, name) * 31 + proof.map(Arrays::hashCode).orElse(0);
    }

    @Override
    public String toString() {
      return "Hello[version="
          + version
          + ", capabilities="
          + capabilities
          + ", name="
          + name
          + (proof.isPresent() ? ", proof" : "")
          + "]";
    }
  }

  /**
   * The keys of a sealed session, handed to one receiver in its WELCOME.
   *
   * @param sessionKey seals the sender's ANNOUNCEs (the same for every receiver of the session)
   * @param receiverKey seals this receiver's STATUS and NAK (its own: no other receiver knows it)
   */
  record Keys(byte[] sessionKey, byte[] receiverKey) {
    public Keys {
      if (sessionKey.length != McastAuth.KEY_BYTES || receiverKey.length != McastAuth.KEY_BYTES) {
        throw new IllegalArgumentException(
            "keys of "
                + sessionKey.length
                + "/"
                + receiverKey.length
                + " bytes, want "
                + McastAuth.KEY_BYTES);
      }
      sessionKey = sessionKey.clone();
      receiverKey = receiverKey.clone();
    }

    @Override
    public byte[] sessionKey() {
      return sessionKey.clone();
    }

    @Override
    public byte[] receiverKey() {
      return receiverKey.clone();
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Keys k
          && Arrays.equals(k.sessionKey, sessionKey)
          && Arrays.equals(k.receiverKey, receiverKey);
    }

    @Override
    public int hashCode() {
      return Arrays.hashCode(sessionKey) * 31 + Arrays.hashCode(receiverKey);
    }

    @Override
    public String toString() {
      return "Keys[...]"; // never logged
    }
  }

  /**
   * Sender → receiver: the session, the receiver's id, where data flows, and the manifest; with
   * {@link McastPacket#CAP_SEALED} in its capabilities, the session's keys appended after the
   * manifest; with {@link McastPacket#CAP_SIGNED}, then the manifest's signatures (a count and that
   * many signature blocks of docs/image-format.md).
   *
   * @param signatures the manifest's signatures, by the daemon's current key and, during a key
   *     rotation, its previous one; present exactly when {@link McastPacket#CAP_SIGNED} is set
   */
  record Welcome(
      int sessionId,
      int receiverId,
      int group,
      int dataPort,
      int symbolSize,
      int capabilities,
      Manifest manifest,
      Optional<Keys> keys,
      List<ManifestSignature> signatures)
      implements ControlMessage {
    /**
     * Most signatures one WELCOME carries: the current key and the previous one, with room to
     * spare.
     */
    public static final int MAX_SIGNATURES = 4;

    /** An unsealed, unsigned WELCOME, as the first version sent. */
    public Welcome(
        int sessionId,
        int receiverId,
        int group,
        int dataPort,
        int symbolSize,
        int capabilities,
        Manifest manifest) {
      this(
          sessionId,
          receiverId,
          group,
          dataPort,
          symbolSize,
          capabilities & ~McastPacket.CAP_SEALED,
          manifest,
          Optional.empty());
    }

    /** An unsigned WELCOME. */
    public Welcome(
        int sessionId,
        int receiverId,
        int group,
        int dataPort,
        int symbolSize,
        int capabilities,
        Manifest manifest,
        Optional<Keys> keys) {
      this(
          sessionId,
          receiverId,
          group,
          dataPort,
          symbolSize,
          capabilities & ~McastPacket.CAP_SIGNED,
          manifest,
          keys,
          List.of());
    }

    public Welcome {
      Objects.requireNonNull(manifest, "manifest");
      Objects.requireNonNull(keys, "keys");
      signatures = List.copyOf(signatures);
      if (keys.isPresent() != ((capabilities & McastPacket.CAP_SEALED) != 0)) {
        throw new IllegalArgumentException(
            "keys present exactly when CAP_SEALED is set, caps 0x"
                + Integer.toHexString(capabilities));
      }
      if (signatures.isEmpty() == ((capabilities & McastPacket.CAP_SIGNED) != 0)) {
        throw new IllegalArgumentException(
            "signatures present exactly when CAP_SIGNED is set, caps 0x"
                + Integer.toHexString(capabilities));
      }
      if (signatures.size() > MAX_SIGNATURES)
        throw new IllegalArgumentException(
            signatures.size() + " signatures, at most " + MAX_SIGNATURES);
      if (receiverId < 0 || receiverId > 0xFFFF)
        throw new IllegalArgumentException("receiver id " + receiverId);
      if (dataPort < 1 || dataPort > 0xFFFF)
        throw new IllegalArgumentException("data port " + dataPort);
    }

    /** This WELCOME carrying {@code sigs} (none: unsigned). */
    public Welcome withSignatures(List<ManifestSignature> sigs) {
      int caps =
          sigs.isEmpty()
              ? capabilities & ~McastPacket.CAP_SIGNED
              : capabilities | McastPacket.CAP_SIGNED;
      return new Welcome(
          sessionId, receiverId, group, dataPort, symbolSize, caps, manifest, keys, sigs);
    }

    static Welcome decodeBody(ByteBuf in) {
      int session = in.readInt();
      int receiver = in.readUnsignedShort();
      int group = in.readInt();
      int port = in.readUnsignedShort();
      int symbol = in.readUnsignedShort();
      int caps = in.readInt();
      if (port == 0) throw new MalformedPacketException("WELCOME data port 0");
      if (symbol < SymbolLayout.MIN_SYMBOL_SIZE || symbol > SymbolLayout.MAX_SYMBOL_SIZE) {
        throw new MalformedPacketException("WELCOME symbol size " + symbol + " out of range");
      }
      Manifest manifest = Manifest.decode(in);
      Optional<Keys> keys = Optional.empty();
      if ((caps & McastPacket.CAP_SEALED) != 0) {
        if (!in.isReadable(2 * McastAuth.KEY_BYTES)) {
          throw new MalformedPacketException(
              "WELCOME says sealed but carries "
                  + in.readableBytes()
                  + " key bytes, want "
                  + 2 * McastAuth.KEY_BYTES);
        }
        byte[] sessionKey = new byte[McastAuth.KEY_BYTES];
        byte[] receiverKey = new byte[McastAuth.KEY_BYTES];
        in.readBytes(sessionKey);
        in.readBytes(receiverKey);
        keys = Optional.of(new Keys(sessionKey, receiverKey));
      }
      List<ManifestSignature> sigs = List.of();
      if ((caps & McastPacket.CAP_SIGNED) != 0) {
        sigs = decodeSignatures(in);
      }
      return new Welcome(session, receiver, group, port, symbol, caps, manifest, keys, sigs);
    }

    private static List<ManifestSignature> decodeSignatures(ByteBuf in) {
      if (!in.isReadable())
        throw new MalformedPacketException("WELCOME says signed but carries no signature count");
      int n = in.readUnsignedByte();
      if (n < 1 || n > MAX_SIGNATURES)
        throw new MalformedPacketException(
            "WELCOME signature count " + n + ", want 1.." + MAX_SIGNATURES);
      ManifestSignature[] sigs = new ManifestSignature[n];
      for (int i = 0; i < n; i++) {
        int which = i + 1;
        try {
          // Within a WELCOME a block must be there: no magic is malformed, not "unsigned".
          sigs[i] =
              ManifestSignature.decode(in)
                  .orElseThrow(
                      () ->
                          new MalformedPacketException(
                              "WELCOME signature block "
                                  + which
                                  + " of "
                                  + n
                                  + " has no CCSG magic"));
        } catch (MalformedImageException e) {
          throw new MalformedPacketException(
              "WELCOME signature block " + which + " of " + n + ": " + e.getMessage());
        }
      }
      return List.of(sigs);
    }

    @Override
    public void encode(ByteBuf out) {
      out.writeByte(TYPE_WELCOME); // type
      out.writeInt(sessionId); // session id
      out.writeShort(receiverId); // receiver id
      out.writeInt(group); // data group IPv4
      out.writeShort(dataPort); // data UDP port
      out.writeShort(symbolSize); // symbol size
      out.writeInt(capabilities); // capability bits
      manifest.encode(out); // image manifest
      keys.ifPresent(
          k -> {
            out.writeBytes(k.sessionKey); // session key: seals ANNOUNCE
            out.writeBytes(k.receiverKey); // receiver key: seals this receiver's STATUS and NAK
          });
      if (!signatures.isEmpty()) {
        out.writeByte(signatures.size()); // signature count
        signatures.forEach(s -> s.encode(out)); // signature blocks, as after a .cci's manifest
      }
    }
  }

  /** Receiver → sender: add these chunks to what I need (all at join, or re-requests). */
  record Need(BitSet chunks) implements ControlMessage {
    public Need {
      chunks = (BitSet) chunks.clone();
    }

    @Override
    public BitSet chunks() {
      return (BitSet) chunks.clone();
    }

    static Need decodeBody(ByteBuf in) {
      int bytes = in.readInt();
      if (bytes < 0 || bytes > in.readableBytes()) {
        throw new MalformedPacketException(
            "NEED bitmap of " + bytes + " bytes, " + in.readableBytes() + " left");
      }
      byte[] b = new byte[bytes];
      in.readBytes(b);
      return new Need(BitSet.valueOf(b));
    }

    @Override
    public void encode(ByteBuf out) {
      byte[] b = chunks.toByteArray();
      out.writeByte(TYPE_NEED); // type
      out.writeInt(b.length); // bitmap length
      out.writeBytes(b); // bitmap, bit i = chunk i, LSB first
    }
  }

  /** Receiver → sender: these chunks are written and verified. */
  record Done(int[] chunks) implements ControlMessage {
    public Done {
      chunks = chunks.clone();
    }

    @Override
    public int[] chunks() {
      return chunks.clone();
    }

    static Done decodeBody(ByteBuf in) {
      int n = in.readInt();
      if (n < 0 || (long) n * 4 > in.readableBytes()) {
        throw new MalformedPacketException(
            "DONE count " + n + ", " + in.readableBytes() + " bytes left");
      }
      int[] c = new int[n];
      for (int i = 0; i < n; i++) {
        c[i] = in.readInt();
        if (c[i] < 0)
          throw new MalformedPacketException(
              "DONE chunk " + Integer.toUnsignedString(c[i]) + " too large");
      }
      return new Done(c);
    }

    @Override
    public void encode(ByteBuf out) {
      out.writeByte(TYPE_DONE); // type
      out.writeInt(chunks.length); // count
      for (int c : chunks) out.writeInt(c); // chunk index
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Done d && Arrays.equals(d.chunks, chunks);
    }

    @Override
    public int hashCode() {
      return Arrays.hashCode(chunks);
    }

    @Override
    public String toString() {
      return "Done" + Arrays.toString(chunks);
    }
  }

  /** Receiver → sender, last frame: the outcome, after the target is flushed to stable storage. */
  record Finished(
      boolean ok, String reason, long bytesWritten, long packets, long repairs, long duplicates)
      implements ControlMessage {
    public Finished {
      Objects.requireNonNull(reason, "reason");
    }

    static Finished decodeBody(ByteBuf in) {
      boolean ok = in.readBoolean();
      String reason = readString(in, "FINISHED reason");
      return new Finished(ok, reason, in.readLong(), in.readLong(), in.readLong(), in.readLong());
    }

    @Override
    public void encode(ByteBuf out) {
      out.writeByte(TYPE_FINISHED); // type
      out.writeBoolean(ok); // success
      writeString(out, reason); // reason or "ok"
      out.writeLong(bytesWritten); // logical bytes written
      out.writeLong(packets); // packets received
      out.writeLong(repairs); // repair packets received
      out.writeLong(duplicates); // duplicate packets received
    }
  }

  /** Sender → receiver: the session is over for you, and why. */
  record End(String reason) implements ControlMessage {
    public End {
      Objects.requireNonNull(reason, "reason");
    }

    static End decodeBody(ByteBuf in) {
      return new End(readString(in, "END reason"));
    }

    @Override
    public void encode(ByteBuf out) {
      out.writeByte(TYPE_END); // type
      writeString(out, reason); // why
    }
  }

  /**
   * Receiver → sender, once, from a receiver that set {@link McastPacket#CAP_DELTA} to a sender
   * that echoed it: its target is hashed, and these are the chunks it still needs (a run list:
   * ascending, disjoint, non-empty runs of chunk indexes). The sender counts it as ready to start
   * only then. Chunk indexes are checked against the manifest by the sender, not here: the decoder
   * bounds only what the frame itself can make anyone allocate (8 bytes of frame per run).
   *
   * @param chunksRight chunks the target already held, checked by their SHA-256
   * @param bytesRight logical bytes those chunks carry (their used blocks)
   * @param runs {@code first0, count0, first1, count1, ...}
   */
  record Checked(int chunksRight, long bytesRight, int[] runs) implements ControlMessage {
    public Checked {
      if (chunksRight < 0 || bytesRight < 0)
        throw new IllegalArgumentException("negative count " + chunksRight + "/" + bytesRight);
      runs = runs.clone();
      checkRuns(runs);
    }

    /** The CHECKED for these needed chunks. */
    public static Checked of(int chunksRight, long bytesRight, BitSet needed) {
      List<Integer> r = new ArrayList<>();
      for (int c = needed.nextSetBit(0); c >= 0; ) {
        int end = needed.nextClearBit(c);
        r.add(c);
        r.add(end - c);
        c = needed.nextSetBit(end);
      }
      return new Checked(chunksRight, bytesRight, r.stream().mapToInt(Integer::intValue).toArray());
    }

    private static void checkRuns(int[] runs) {
      if (runs.length % 2 != 0) throw new IllegalArgumentException("odd run array");
      long previousEnd = -1;
      for (int i = 0; i < runs.length; i += 2) {
        long first = runs[i];
        long count = runs[i + 1];
        if (first < 0 || count < 1 || first + count > Integer.MAX_VALUE) {
          throw new IllegalArgumentException(
              "run " + i / 2 + " (" + first + ", " + count + ") out of range");
        }
        if (first <= previousEnd)
          throw new IllegalArgumentException(
              "run " + i / 2 + " starts at " + first + ", not after " + previousEnd);
        previousEnd = first + count - 1;
      }
    }

    @Override
    public int[] runs() {
      return runs.clone();
    }

    /** Chunks named, in all. */
    public long chunksNeeded() {
      long n = 0;
      for (int i = 1; i < runs.length; i += 2) n += runs[i];
      return n;
    }

    /**
     * The needed chunks below {@code chunkCount}; the rest are not counted here (see {@link
     * #chunksNeeded}).
     */
    public BitSet needed(int chunkCount) {
      BitSet b = new BitSet();
      for (int i = 0; i < runs.length; i += 2) {
        int first = runs[i];
        if (first >= chunkCount) break;
        b.set(first, (int) Math.min((long) first + runs[i + 1], chunkCount));
      }
      return b;
    }

    static Checked decodeBody(ByteBuf in) {
      int right = in.readInt();
      long bytes = in.readLong();
      int n = in.readInt();
      if (right < 0 || bytes < 0)
        throw new MalformedPacketException(
            "CHECKED counts " + Integer.toUnsignedString(right) + "/" + bytes);
      if (n < 0 || (long) n * 8 > in.readableBytes()) {
        throw new MalformedPacketException(
            "CHECKED run count "
                + Integer.toUnsignedString(n)
                + ", "
                + in.readableBytes()
                + " bytes left");
      }
      int[] runs = new int[2 * n];
      for (int i = 0; i < runs.length; i++) runs[i] = in.readInt();
      try {
        return new Checked(right, bytes, runs);
      } catch (IllegalArgumentException e) {
        throw new MalformedPacketException("CHECKED " + e.getMessage());
      }
    }

    @Override
    public void encode(ByteBuf out) {
      out.writeByte(TYPE_CHECKED); // type
      out.writeInt(chunksRight); // chunks the target already held
      out.writeLong(bytesRight); // logical bytes of those chunks
      out.writeInt(runs.length / 2); // run count
      for (int r : runs) out.writeInt(r); // per run: u32 first chunk, u32 chunk count
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Checked c
          && c.chunksRight == chunksRight
          && c.bytesRight == bytesRight
          && Arrays.equals(c.runs, runs);
    }

    @Override
    public int hashCode() {
      return Objects.hash(chunksRight, bytesRight) * 31 + Arrays.hashCode(runs);
    }

    @Override
    public String toString() {
      return "Checked[right="
          + chunksRight
          + ", bytes="
          + bytesRight
          + ", runs="
          + runs.length / 2
          + "]";
    }
  }
}
