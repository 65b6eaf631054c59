package org.clonecast.server.tftp;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.clonecast.protocol.tftp.Tftp;
import org.clonecast.protocol.tftp.TftpAck;
import org.clonecast.protocol.tftp.TftpData;
import org.clonecast.protocol.tftp.TftpError;
import org.clonecast.protocol.tftp.TftpMode;
import org.clonecast.protocol.tftp.TftpOptionAck;
import org.clonecast.protocol.tftp.TftpOptions;
import org.clonecast.protocol.tftp.TftpPacket;
import org.clonecast.protocol.tftp.TftpReadRequest;
import org.clonecast.protocol.wire.ByteBufs;

/**
 * A small blocking TFTP client on our codec, for tests: what EDK2 does (tsize probe, ERROR 8, then
 * a windowed download) and whatever a test needs to poke at (raw requests, a second socket for
 * wrong TIDs). It ACKs every windowsize-th block and the last one, and on a gap re-ACKs the last
 * block in order (RFC 7440 §4). Also a command-line tool for the lab ITs ({@link #main}).
 *
 * <p>Not thread-safe.
 */
public final class TftpTestClient implements AutoCloseable {
  private final DatagramSocket socket;
  private final InetSocketAddress server;
  private InetSocketAddress tid;

  /** Packets the last {@link #get} sent (ACKs). */
  public int acksSent;

  public TftpTestClient(InetSocketAddress server) throws IOException {
    this(server, new InetSocketAddress(0));
  }

  /** A client bound to {@code local} (e.g. 127.0.0.2:0, to be another host on loopback). */
  public TftpTestClient(InetSocketAddress server, InetSocketAddress local) throws IOException {
    this.server = server;
    this.socket = new DatagramSocket(local);
    socket.setSoTimeout(5000);
  }

  /** The transfer port of the last request's answer. */
  public InetSocketAddress tid() {
    return tid;
  }

  public void send(TftpPacket p, InetSocketAddress to) throws IOException {
    ByteBuf b = Unpooled.buffer();
    p.encode(b);
    byte[] bytes = ByteBufs.toByteArray(b);
    socket.send(new DatagramPacket(bytes, bytes.length, to));
  }

  public void sendRaw(byte[] bytes, InetSocketAddress to) throws IOException {
    socket.send(new DatagramPacket(bytes, bytes.length, to));
  }

  /** Waits (socket timeout) for the next packet; remembers its sender as the TID. */
  public TftpPacket receive() throws IOException {
    byte[] buf = new byte[65536];
    DatagramPacket dp = new DatagramPacket(buf, buf.length);
    socket.receive(dp);
    tid = (InetSocketAddress) dp.getSocketAddress();
    return TftpPacket.decode(Unpooled.copiedBuffer(buf, 0, dp.getLength()));
  }

  /** Sends an octet RRQ to the server's request port and returns the first answer. */
  public TftpPacket request(String file, TftpOptions options) throws IOException {
    send(new TftpReadRequest(file, TftpMode.OCTET, options), server);
    return receive();
  }

  /**
   * EDK2's size probe: RRQ with tsize, blksize and windowsize, then ERROR 8 to the OACK.
   *
   * @return the OACK's options
   */
  public TftpOptions probe(String file) throws IOException {
    TftpPacket p =
        request(file, TftpOptions.of("tsize", "0", "blksize", "1468", "windowsize", "4"));
    if (!(p instanceof TftpOptionAck oack)) {
      throw new IOException("probe of " + file + ": got " + p + ", want OACK");
    }
    send(new TftpError(Tftp.ERR_OPTION_REFUSED, "User aborted the transfer"), tid);
    return oack.options();
  }

  /** Downloads {@code file} into {@code out}; returns the OACK's options (empty without). */
  public TftpOptions get(String file, TftpOptions options, OutputStream out) throws IOException {
    acksSent = 0;
    TftpPacket first = request(file, options);
    TftpOptions granted = TftpOptions.NONE;
    int blksize = Tftp.DEFAULT_BLKSIZE;
    int window = 1;
    if (first instanceof TftpOptionAck oack) {
      granted = oack.options();
      blksize = Integer.parseInt(granted.get(Tftp.OPT_BLKSIZE).orElse("512"));
      window = Integer.parseInt(granted.get(Tftp.OPT_WINDOWSIZE).orElse("1"));
      ack(0);
      first = null;
    }
    InetSocketAddress transfer = tid;
    long inOrder = 0;
    int sinceAck = 0;
    int silent = 0;
    while (true) {
      TftpPacket p;
      if (first != null) {
        p = first;
        first = null;
      } else {
        try {
          p = receive();
        } catch (SocketTimeoutException e) {
          if (++silent > 5) {
            throw new IOException(file + ": no DATA after block " + inOrder);
          }
          ack((int) (inOrder & 0xFFFF));
          continue;
        }
      }
      if (!tid.equals(transfer)) {
        throw new IOException(file + ": packet from " + tid + ", transfer is with " + transfer);
      }
      if (p instanceof TftpError e) {
        throw new IOException(file + ": ERROR " + e.code() + " " + e.message());
      }
      if (!(p instanceof TftpData d)) {
        continue;
      }
      silent = 0;
      if (d.block() != (int) ((inOrder + 1) & 0xFFFF)) {
        ack((int) (inOrder & 0xFFFF));
        sinceAck = 0;
        continue;
      }
      inOrder++;
      int length = d.data().readableBytes();
      d.data().readBytes(out, length);
      boolean last = length < blksize;
      if (++sinceAck == window || last) {
        ack(d.block());
        sinceAck = 0;
      }
      if (last) {
        return granted;
      }
    }
  }

  private void ack(int block) throws IOException {
    acksSent++;
    send(new TftpAck(block), tid);
  }

  @Override
  public void close() {
    socket.close();
  }

  /**
   * {@code get HOST[:PORT] FILE OUT [NAME=VALUE...]}: download, print the OACK; {@code probe
   * HOST[:PORT] FILE}: print the OACK of a size probe; {@code error HOST[:PORT] FILE}: expect an
   * ERROR and print it. Exit 0 when it went as expected.
   */
  public static void main(String[] args) throws IOException {
    String[] hp = args[1].split(":");
    InetSocketAddress server =
        new InetSocketAddress(
            InetAddress.getByName(hp[0]), hp.length > 1 ? Integer.parseInt(hp[1]) : Tftp.PORT);
    try (TftpTestClient c = new TftpTestClient(server)) {
      switch (args[0]) {
        case "get" -> {
          List<String> opts = new ArrayList<>();
          for (int i = 4; i < args.length; i++) {
            String[] nv = args[i].split("=", 2);
            opts.add(nv[0]);
            opts.add(nv[1]);
          }
          try (OutputStream out = Files.newOutputStream(Path.of(args[3]))) {
            TftpOptions granted = c.get(args[2], TftpOptions.of(opts.toArray(String[]::new)), out);
            System.out.println("OACK " + granted + "; ACKs " + c.acksSent);
          }
        }
        case "probe" -> System.out.println("OACK " + c.probe(args[2]));
        case "error" -> {
          TftpPacket p = c.request(args[2], TftpOptions.NONE);
          System.out.println(
              p instanceof TftpError e
                  ? "ERROR " + e.code() + " " + e.message()
                  : "no error: " + p);
          if (!(p instanceof TftpError)) {
            System.exit(1);
          }
        }
        default ->
            throw new IllegalArgumentException(
                "usage: get|probe|error HOST[:PORT] FILE [OUT NAME=VALUE...]");
      }
    }
  }

  /** Collects a download in memory. */
  public static byte[] download(TftpTestClient c, String file, TftpOptions options)
      throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    c.get(file, options, out);
    return out.toByteArray();
  }
}
