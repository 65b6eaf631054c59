package org.clonecast.protocol.tftp;

import io.netty.buffer.ByteBuf;
import java.util.Objects;
import org.clonecast.protocol.wire.ByteBufs;

/**
 * DATA (opcode 3): {@code | 03 | block # | data |}, the data 0..blksize bytes; a short block ends
 * the transfer. Immutable as long as the payload buffer is not modified: a decoded DATA shares its
 * payload with the input (a slice, not a copy, and not retained), so it is valid only while the
 * input buffer is. The server writes DATA straight from the file and never builds this record.
 *
 * @param block the u16 block number
 * @param data the payload, read from its reader index to its writer index
 */
public record TftpData(int block, ByteBuf data) implements TftpPacket {
  /** Validates the fields. */
  public TftpData {
    ByteBufs.requireU16(block, "block");
    Objects.requireNonNull(data, "data");
  }

  /** Decodes a DATA; the rest of the buffer is the payload. */
  public static TftpData decode(ByteBuf in) {
    return ByteBufs.decoding(
        "DATA",
        in,
        b -> {
          TftpPacket.readOpcode(b, Tftp.OP_DATA, "DATA");
          ByteBufs.requireReadable(b, 2, "DATA block");
          int block = b.readUnsignedShort();
          return new TftpData(block, b.readSlice(b.readableBytes()));
        });
  }

  @Override
  public int opcode() {
    return Tftp.OP_DATA;
  }

  @Override
  public void encode(ByteBuf out) {
    out.writeShort(Tftp.OP_DATA); // opcode
    out.writeShort(block); // block #
    out.writeBytes(data, data.readerIndex(), data.readableBytes()); // data
  }
}
