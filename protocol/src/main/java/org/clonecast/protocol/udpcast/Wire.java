package org.clonecast.protocol.udpcast;

import io.netty.buffer.ByteBuf;
import org.clonecast.protocol.wire.ByteBufs;
import org.clonecast.protocol.wire.MalformedPacketException;

/** Reading steps every udpcast record shares. Stateless; thread-safe. */
final class Wire {
    private Wire() {
    }

    /**
     * Checks that {@code size} bytes are readable and that the opcode is {@code expected}, then
     * consumes the opcode and the reserved i16 after it (sent as 0, ignored on receipt).
     */
    static void readOpcodeAndReserved(ByteBuf in, int size, int expected, String name) {
        ByteBufs.requireReadable(in, size, name);
        int opcode = in.readUnsignedShort();
        if (opcode != expected) {
            throw new MalformedPacketException(name + " opcode " + opcode + ", want " + expected);
        }
        in.skipBytes(2); // reserved
    }

}
