package org.clonecast.server.send;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.DatagramPacket;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.clonecast.common.net.Transport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The shared datagram batching over real loopback sockets (epoll with UDP GSO where this kernel has
 * it, else one datagram per packet): what arrives is exactly the packets appended, in order, with
 * their sizes, whether the batch went out as one GSO send or not.
 */
class DatagramBatcherTest {
  private static final int SEGMENT = 300;

  private EventLoopGroup group;
  private DatagramChannel sender;
  private final List<DatagramChannel> receivers = new ArrayList<>();

  @BeforeEach
  void setUp() throws Exception {
    group = Transport.group(1, "batcher-test");
    sender =
        (DatagramChannel)
            new Bootstrap()
                .group(group)
                .channel(Transport.datagram())
                .option(ChannelOption.SO_SNDBUF, 1 << 20)
                .handler(
                    new SimpleChannelInboundHandler<DatagramPacket>() {
                      @Override
                      protected void channelRead0(ChannelHandlerContext ctx, DatagramPacket msg) {}
                    })
                .bind(new InetSocketAddress("127.0.0.1", 0))
                .sync()
                .channel();
  }

  @AfterEach
  void tearDown() {
    sender.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
    receivers.forEach(r -> r.close().awaitUninterruptibly(5, TimeUnit.SECONDS));
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
  }

  /** A receiving socket on 127.0.0.1 that keeps what arrives as hex strings, in order. */
  private InetSocketAddress receiver(ConcurrentLinkedQueue<String> got) throws Exception {
    DatagramChannel r =
        (DatagramChannel)
            new Bootstrap()
                .group(group)
                .channel(Transport.datagram())
                .option(ChannelOption.SO_RCVBUF, 1 << 20)
                .handler(
                    new SimpleChannelInboundHandler<DatagramPacket>() {
                      @Override
                      protected void channelRead0(ChannelHandlerContext ctx, DatagramPacket msg) {
                        got.add(ByteBufUtil.hexDump(msg.content()));
                      }
                    })
                .bind(new InetSocketAddress("127.0.0.1", 0))
                .sync()
                .channel();
    receivers.add(r);
    return r.localAddress();
  }

  /** Packet {@code i}: {@code len} bytes of the value i. */
  private static String fill(ByteBuf out, int i, int len) {
    int start = out.writerIndex();
    for (int b = 0; b < len; b++) out.writeByte(i);
    return ByteBufUtil.hexDump(out, start, len);
  }

  /** Runs on the sender's event loop, where the batcher lives. */
  private <T> T onLoop(Callable<T> task) throws Exception {
    return sender.eventLoop().submit(task).get(10, TimeUnit.SECONDS);
  }

  @ParameterizedTest
  @ValueSource(booleans = {true, false})
  void everyPacketArrivesWholeAndInOrderAcrossBatchesShortPacketsAndDestinations(boolean allowGso)
      throws Exception {
    ConcurrentLinkedQueue<String> gotA = new ConcurrentLinkedQueue<>();
    ConcurrentLinkedQueue<String> gotB = new ConcurrentLinkedQueue<>();
    InetSocketAddress a = receiver(gotA);
    InetSocketAddress b = receiver(gotB);
    List<String> sentA = new ArrayList<>();
    List<String> sentB = new ArrayList<>();
    boolean gso =
        onLoop(
            () -> {
              DatagramBatcher batcher = new DatagramBatcher(sender, SEGMENT, 4, allowGso);
              // 10 full packets (two full batches and a partial one), a short one that ends its
              // batch,
              // then two for another destination with one for the first in between, and one
              // abandoned.
              for (int i = 0; i < 10; i++) {
                sentA.add(fill(batcher.open(a), i, SEGMENT));
                assertEquals(SEGMENT, batcher.appended());
              }
              sentA.add(fill(batcher.open(a), 10, 17));
              assertEquals(17, batcher.appended());
              sentA.add(fill(batcher.open(a), 11, SEGMENT));
              batcher.appended();
              sentB.add(fill(batcher.open(b), 12, SEGMENT));
              batcher.appended();
              sentA.add(fill(batcher.open(a), 13, SEGMENT));
              batcher.appended();
              fill(batcher.open(a), 14, 99);
              batcher.abandon();
              sentB.add(fill(batcher.open(b), 15, SEGMENT));
              batcher.appended();
              batcher.write();
              sender.flush();
              return batcher.gso();
            });
    assertEquals(allowGso && DatagramBatcher.gsoSupported(sender), gso);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> gotA.size() >= sentA.size() && gotB.size() >= sentB.size());
    assertEquals(sentA, List.copyOf(gotA));
    assertEquals(sentB, List.copyOf(gotB));
  }

  @ParameterizedTest
  @ValueSource(booleans = {true, false})
  void misuseIsRefusedAndAnEmptyBatchIsReleased(boolean allowGso) throws Exception {
    InetSocketAddress a = receiver(new ConcurrentLinkedQueue<>());
    onLoop(
        () -> {
          DatagramBatcher batcher = new DatagramBatcher(sender, SEGMENT, 4, allowGso);
          assertThrows(IllegalStateException.class, batcher::appended);
          fill(batcher.open(a), 1, SEGMENT + 1);
          assertThrows(IllegalStateException.class, batcher::appended);
          ByteBuf open = batcher.open(a);
          fill(open, 2, 5);
          batcher.abandon();
          batcher.write();
          assertEquals(0, open.refCnt());
          return null;
        });
    assertThrows(
        IllegalArgumentException.class, () -> new DatagramBatcher(sender, SEGMENT, 65, allowGso));
    assertThrows(IllegalArgumentException.class, () -> new DatagramBatcher(sender, 0, 4, allowGso));
  }
}
