package org.clonecast.protocol.mcast;

import io.netty.buffer.ByteBuf;
import java.util.Objects;
import java.util.Optional;

/**
 * A receiver's periodic heartbeat, unicast to the sender about ten times a second: liveness,
 * progress and recent loss. The sender paces on the loss the receivers report and drops a receiver
 * that stays silent too long.
 *
 * @param lossPermille packets lost per thousand since the previous status (sequence gaps: any
 *     cause)
 * @param overflowPermille packets per thousand this receiver could not keep up with: lost because
 *     its socket buffer was full, or received in chunks that came while its writes were behind
 *     ({@link ReceiverMachine#take}). Appended in version 1's second revision; older packets read
 *     as 0.
 * @param received data and repair packets received so far
 * @param highestSeq highest sequence number seen
 */
public record Status(
    int sessionId,
    int receiverId,
    int lossPermille,
    long received,
    long highestSeq,
    long chunksDone,
    long chunksNeeded,
    long bytesWritten,
    int overflowPermille,
    Optional<Seal> seal)
    implements McastPacket {

  /** Encoded size of an unsealed STATUS. */
  public static final int BYTES = McastPacket.HEADER_BYTES + 30;

  /** An unsealed STATUS, as the first version sent. */
  public Status(
      int sessionId,
      int receiverId,
      int lossPermille,
      long received,
      long highestSeq,
      long chunksDone,
      long chunksNeeded,
      long bytesWritten,
      int overflowPermille) {
    this(
        sessionId,
        receiverId,
        lossPermille,
        received,
        highestSeq,
        chunksDone,
        chunksNeeded,
        bytesWritten,
        overflowPermille,
        Optional.empty());
  }

  public Status {
    Objects.requireNonNull(seal, "seal");
    if (receiverId < 0 || receiverId > 0xFFFF)
      throw new IllegalArgumentException("receiver id " + receiverId);
    if (lossPermille < 0 || lossPermille > 1000)
      throw new IllegalArgumentException("loss " + lossPermille + "‰");
    if (overflowPermille < 0 || overflowPermille > 1000)
      throw new IllegalArgumentException("overflow " + overflowPermille + "‰");
  }

  static Status decodeBody(int session, ByteBuf in) {
    int receiver = in.readUnsignedShort();
    int loss = Math.min(1000, in.readUnsignedShort());
    long received = in.readUnsignedInt();
    long highest = in.readUnsignedInt();
    long done = in.readUnsignedInt();
    long needed = in.readUnsignedInt();
    long written = in.readLong();
    int overflow =
        in.isReadable(2)
            ? Math.min(1000, in.readUnsignedShort())
            : 0; // absent from the first senders' peers
    // A seal follows the overflow field only: a STATUS without the overflow has none.
    Optional<Seal> seal = Seal.decodeIfPresent(in);
    return new Status(
        session, receiver, loss, received, highest, done, needed, written, overflow, seal);
  }

  /** This status with another seal (or none). */
  public Status withSeal(Optional<Seal> s) {
    return new Status(
        sessionId,
        receiverId,
        lossPermille,
        received,
        highestSeq,
        chunksDone,
        chunksNeeded,
        bytesWritten,
        overflowPermille,
        s);
  }

  @Override
  public void encode(ByteBuf out) {
    McastPacket.encodeHeader(out, TYPE_STATUS, sessionId);
    out.writeShort(receiverId); // receiver id
    out.writeShort(lossPermille); // recent loss, per mille
    out.writeInt((int) received); // packets received, mod 2^32
    out.writeInt((int) highestSeq); // highest sequence seen, mod 2^32
    out.writeInt((int) chunksDone); // chunks verified and written
    out.writeInt((int) chunksNeeded); // chunks needed in all
    out.writeLong(bytesWritten); // logical bytes written
    out.writeShort(overflowPermille); // socket buffer overflow, per mille
    seal.ifPresent(x -> x.encode(out)); // seal: counter, tag
  }
}
