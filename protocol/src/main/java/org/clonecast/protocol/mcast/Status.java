package org.clonecast.protocol.mcast;

import io.netty.buffer.ByteBuf;

/**
 * A receiver's periodic heartbeat, unicast to the sender about ten times a second: liveness,
 * progress and recent loss. The sender paces on the loss the receivers report and drops a
 * receiver that stays silent too long.
 *
 * @param lossPermille packets lost per thousand since the previous status
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
    long bytesWritten)
    implements McastPacket {

  public static final int BYTES = McastPacket.HEADER_BYTES + 28;

  public Status {
    if (receiverId < 0 || receiverId > 0xFFFF) throw new IllegalArgumentException("receiver id " + receiverId);
    if (lossPermille < 0 || lossPermille > 1000) throw new IllegalArgumentException("loss " + lossPermille + "‰");
  }

  static Status decodeBody(int session, ByteBuf in) {
    int receiver = in.readUnsignedShort();
    int loss = Math.min(1000, in.readUnsignedShort());
    long received = in.readUnsignedInt();
    long highest = in.readUnsignedInt();
    long done = in.readUnsignedInt();
    long needed = in.readUnsignedInt();
    long written = in.readLong();
    return new Status(session, receiver, loss, received, highest, done, needed, written);
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
  }
}
