package org.clonecast.server.boot;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.net.Inet6Address;
import java.net.SocketException;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.clonecast.common.net.NetInterface;
import org.clonecast.protocol.ndp.AdvertSchedule;
import org.clonecast.protocol.ndp.RouterAdvertisement;
import org.clonecast.protocol.ndp.RouterSolicitation;
import org.clonecast.protocol.wire.MacAddress;
import org.clonecast.protocol.wire.MalformedPacketException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends harmless IPv6 Router Advertisements on the provisioning interface (see {@link
 * RouterAdvertisement#harmless}) and answers Router Solicitations at once, so iPXE stops waiting
 * for IPv6 autoconfiguration: measured, that wait is ~13 s of a 23.5 s BIOS boot. Config {@code
 * boot.router-advert = false} turns it off, e.g. on a LAN with a real IPv6 router.
 *
 * <p>One daemon thread owns the socket. If the socket cannot be opened (no CAP_NET_RAW, IPv6 off)
 * the daemon runs without adverts and says so once. Thread-safe.
 */
public final class RouterAdvertiser implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(RouterAdvertiser.class);
  private static final int POLL_MILLIS = 250;
  private static final Inet6Address ALL_NODES = Icmp6Socket.address("ff02::1");
  private static final long INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(60);
  private static final long WARN_AFTER_NANOS = TimeUnit.SECONDS.toNanos(10);

  private final Icmp6Socket socket;
  private final byte[] advert;
  private final Thread thread;
  private final AtomicLong solicitations = new AtomicLong();
  private final AtomicLong adverts = new AtomicLong();
  private final AtomicLong malformed = new AtomicLong();
  private volatile boolean stopping;

  private RouterAdvertiser(Icmp6Socket socket, MacAddress self, String ifname) {
    this.socket = socket;
    ByteBuf b = Unpooled.buffer(24);
    RouterAdvertisement.harmless(self).encode(b);
    this.advert = ByteBufUtil.getBytes(b);
    this.thread = new Thread(this::run, "ra-" + ifname);
    thread.setDaemon(true);
  }

  /**
   * Starts advertising on {@code nif}.
   *
   * @return empty, with one WARN naming the reason and the cost, when it cannot run here
   */
  public static Optional<RouterAdvertiser> start(NetInterface nif) {
    MacAddress self;
    int index;
    try {
      byte[] hw = nif.nif().getHardwareAddress();
      if (hw == null || hw.length != MacAddress.LENGTH) {
        LOG.warn(
            "ra: {} has no Ethernet address; no IPv6 router adverts (iPXE will wait ~13 s for IPv6)",
            nif.name());
        return Optional.empty();
      }
      self = MacAddress.of(hw);
      index = nif.nif().getIndex();
    } catch (SocketException e) {
      LOG.warn("ra: cannot read {}: {}; no IPv6 router adverts", nif.name(), e.getMessage());
      return Optional.empty();
    }
    Icmp6Socket s;
    try {
      s = Icmp6Socket.open(nif.name(), index, POLL_MILLIS);
    } catch (IllegalStateException e) {
      LOG.warn(
          "ra: {}; no IPv6 router adverts on {} (iPXE will wait ~13 s for IPv6; set boot.router-advert = false"
              + " to silence this)",
          e.getMessage(),
          nif.name());
      return Optional.empty();
    }
    RouterAdvertiser ra = new RouterAdvertiser(s, self, nif.name());
    ra.thread.start();
    LOG.info("ra: advertising on {} (router lifetime 0, no prefix)", nif.name());
    return Optional.of(ra);
  }

  private void run() {
    AdvertSchedule schedule = new AdvertSchedule(INTERVAL_NANOS, System.nanoTime());
    boolean warned = false;
    long failingSince = -1;
    while (!stopping) {
      try {
        if (schedule.unsolicitedDue(System.nanoTime())) {
          send(ALL_NODES);
        }
        Optional<Icmp6Socket.Received> r = socket.receive();
        if (r.isEmpty()) continue;
        try {
          RouterSolicitation.decode(Unpooled.wrappedBuffer(r.get().message()));
        } catch (MalformedPacketException e) {
          malformed.incrementAndGet();
          LOG.debug(
              "ra: malformed solicitation from {}: {}",
              r.get().source().getHostAddress(),
              e.getMessage());
          continue;
        }
        solicitations.incrementAndGet();
        Inet6Address src = r.get().source();
        if (schedule.solicited(src.getHostAddress(), System.nanoTime())) {
          // RFC 4861 §6.2.6: a solicitation from the unspecified address is answered to all-nodes.
          send(src.isAnyLocalAddress() ? ALL_NODES : src);
        }
        warned = false;
        failingSince = -1;
      } catch (IllegalStateException e) {
        // Typically: the interface has no link-local address yet (duplicate address detection
        // takes a second or two after it comes up), or IPv6 was switched off on it. Only a
        // failure that lasts is worth a warning.
        long now = System.nanoTime();
        if (failingSince < 0) failingSince = now;
        if (!warned && now - failingSince >= WARN_AFTER_NANOS) {
          LOG.warn("ra: {}; will keep trying", e.getMessage());
          warned = true;
        } else {
          LOG.debug("ra: {}", e.getMessage());
        }
        sleepQuietly();
      }
    }
  }

  private void send(Inet6Address dest) {
    socket.send(advert, dest);
    adverts.incrementAndGet();
  }

  private static void sleepQuietly() {
    try {
      Thread.sleep(POLL_MILLIS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Solicitations received, adverts sent, malformed packets dropped: for the metrics endpoint. */
  public long solicitations() {
    return solicitations.get();
  }

  public long adverts() {
    return adverts.get();
  }

  public long malformed() {
    return malformed.get();
  }

  @Override
  public void close() {
    stopping = true;
    try {
      thread.join(2 * POLL_MILLIS + 1000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    socket.close();
  }
}
