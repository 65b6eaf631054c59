package org.clonecast.server.dns;

import java.io.IOException;
import java.net.Inet4Address;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.clonecast.common.concurrent.DaemonThreads;
import org.clonecast.server.config.DnsUpdateConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.NameTooLongException;
import org.xbill.DNS.PTRRecord;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.ReverseMap;
import org.xbill.DNS.Section;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.TSIG;
import org.xbill.DNS.TextParseException;
import org.xbill.DNS.Type;
import org.xbill.DNS.Update;

/**
 * Keeps a site's own DNS server in step with the cluster: RFC 2136 UPDATE messages, signed with
 * TSIG (RFC 8945), when a node gets an address ({@link #leaseStarted}), loses it ({@link
 * #leaseEnded}) or is renamed (both). The DHCP server calls the two methods; the daemon calls them
 * too for inventory changes (NodeStore events).
 *
 * <p>Updates are sent in order, one at a time, from one background thread. A timeout or SERVFAIL is
 * retried after 1, 2, 4 and 8 s; a refusal (NOTAUTH, REFUSED, NOTZONE: a key or zone mistake) and a
 * reply that is not signed with our key are not retried. Either way a failure is reported to the
 * operator ({@code onFailure}) and counted. The server must allow the key to update the zones
 * (BIND: {@code update-policy { grant KEY zonesub ANY; };}).
 *
 * <p>Thread-safe.
 */
public final class DnsUpdater implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(DnsUpdater.class);
  static final int ATTEMPTS = 5;
  private static final Duration TIMEOUT = Duration.ofSeconds(3);

  private final DnsUpdateConfig config;
  private final Name zone;
  private final Optional<Name> reverseZone;
  private final long ttl;
  private final SimpleResolver resolver;
  private final DnsStats stats;
  private final Consumer<String> onFailure;
  private final ScheduledExecutorService executor;

  /** Touched only on {@link #executor}. */
  private final Deque<Pending> queue = new ArrayDeque<>();

  private static final class Pending {
    final String what;
    final Message message;
    int attempts;

    Pending(String what, Message message) {
      this.what = what;
      this.message = message;
    }
  }

  /**
   * @param ttl TTL of the records added
   * @param onFailure told, in operator words, about each update given up
   */
  public DnsUpdater(DnsUpdateConfig config, long ttl, DnsStats stats, Consumer<String> onFailure) {
    this.config = Objects.requireNonNull(config);
    this.zone = DnsZone.Spec.origin(config.zone());
    this.reverseZone = config.reverseZone().map(DnsZone.Spec::origin);
    this.ttl = ttl;
    this.stats = Objects.requireNonNull(stats);
    this.onFailure = Objects.requireNonNull(onFailure);
    this.resolver = new SimpleResolver(config.server());
    resolver.setTimeout(TIMEOUT);
    resolver.setTSIGKey(tsig(config));
    this.executor = Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("dns-update"));
  }

  static TSIG tsig(DnsUpdateConfig c) {
    try {
      return new TSIG(
          TSIG.algorithmToName(c.keyAlgorithm()),
          Name.fromString(c.keyName() + "."),
          c.keySecret());
    } catch (TextParseException e) {
      throw new IllegalArgumentException("TSIG key name " + c.keyName() + " is invalid", e);
    }
  }

  /** {@code name} now has {@code ip}: its A record (and PTR) replace any earlier ones. */
  public void leaseStarted(String name, Inet4Address ip) {
    submitAll("add", name, ip, started(name, ip));
  }

  /** {@code name} no longer has {@code ip}: that A record (and its PTR) go. */
  public void leaseEnded(String name, Inet4Address ip) {
    submitAll("delete", name, ip, ended(name, ip));
  }

  /** Submits each update, described as "VERB name ip in zone" in logs and events. */
  private void submitAll(String verb, String name, Inet4Address ip, List<Message> updates) {
    for (Message m : updates) {
      submit(
          verb
              + " "
              + name
              + " "
              + ip.getHostAddress()
              + " in "
              + m.getSection(Section.ZONE).get(0).getName(),
          m);
    }
  }

  /** The updates for a node whose DNS entry went from {@code before} to {@code after}. */
  public void changed(Optional<HostDirectory.Host> before, Optional<HostDirectory.Host> after) {
    if (before.equals(after)) {
      return;
    }
    before.ifPresent(h -> leaseEnded(h.name(), h.address()));
    after.ifPresent(h -> leaseStarted(h.name(), h.address()));
  }

  /** UPDATEs for a new address: the forward zone's, then the reverse zone's if configured. */
  List<Message> started(String name, Inet4Address ip) {
    Name owner = owner(name);
    List<Message> out = new ArrayList<>();
    Update fwd = new Update(zone);
    fwd.delete(owner, Type.A);
    fwd.add(new ARecord(owner, DClass.IN, ttl, ip));
    out.add(fwd);
    ptrName(ip)
        .ifPresent(
            ptr -> {
              Update rev = new Update(reverseZone.orElseThrow());
              rev.delete(ptr, Type.PTR);
              rev.add(new PTRRecord(ptr, DClass.IN, ttl, owner));
              out.add(rev);
            });
    return out;
  }

  /** UPDATEs removing exactly this name's A record for {@code ip} and its PTR. */
  List<Message> ended(String name, Inet4Address ip) {
    Name owner = owner(name);
    List<Message> out = new ArrayList<>();
    Update fwd = new Update(zone);
    fwd.delete(new ARecord(owner, DClass.IN, 0, ip));
    out.add(fwd);
    ptrName(ip)
        .ifPresent(
            ptr -> {
              Update rev = new Update(reverseZone.orElseThrow());
              rev.delete(new PTRRecord(ptr, DClass.IN, 0, owner));
              out.add(rev);
            });
    return out;
  }

  private Name owner(String name) {
    try {
      return Name.concatenate(Name.fromString(name), zone);
    } catch (TextParseException | NameTooLongException e) {
      throw new IllegalArgumentException("node name " + name + " is not a DNS label", e);
    }
  }

  /** The PTR owner of {@code ip}, when a reverse zone is configured and holds it. */
  private Optional<Name> ptrName(Inet4Address ip) {
    Name ptr = ReverseMap.fromAddress(ip);
    return reverseZone.filter(ptr::subdomain).map(z -> ptr);
  }

  private void submit(String what, Message m) {
    executor.execute(
        () -> {
          queue.add(new Pending(what, m));
          if (queue.size() == 1) {
            sendHead();
          }
        });
  }

  /** Sends the oldest pending update; on its end (success or giving up) moves to the next. */
  private void sendHead() {
    Pending p = queue.peek();
    if (p == null) {
      return;
    }
    p.attempts++;
    String failure;
    boolean retry;
    try {
      Message reply = resolver.send(p.message);
      int rcode = reply.getRcode();
      if (rcode == Rcode.NOERROR && reply.isVerified()) {
        stats.updatesSent.increment();
        LOG.info("dns-update: {} accepted by {}", p.what, server());
        next();
        return;
      }
      failure =
          rcode == Rcode.NOERROR
              ? "the reply was not signed with key " + config.keyName()
              : "the server answered " + Rcode.string(rcode) + hint(rcode);
      retry = rcode == Rcode.SERVFAIL;
    } catch (IOException | RuntimeException e) {
      failure = "no answer (" + e.getMessage() + ")";
      retry = true;
    }
    if (retry && p.attempts < ATTEMPTS) {
      long delay = 1L << (p.attempts - 1);
      LOG.debug("dns-update: {} failed ({}); retrying in {} s", p.what, failure, delay);
      executor.schedule(this::sendHead, delay, TimeUnit.SECONDS);
      return;
    }
    stats.updatesFailed.increment();
    String msg =
        "update '"
            + p.what
            + "' to "
            + server()
            + " failed after "
            + p.attempts
            + " attempt(s): "
            + failure;
    LOG.warn("dns-update: {}", msg);
    try {
      onFailure.accept(msg);
    } catch (RuntimeException e) {
      LOG.warn("dns-update: reporting a failure failed", e);
    }
    next();
  }

  private String server() {
    return config.server().getAddress().getHostAddress() + ":" + config.server().getPort();
  }

  private void next() {
    queue.poll();
    if (!queue.isEmpty()) {
      executor.execute(this::sendHead);
    }
  }

  private static String hint(int rcode) {
    return switch (rcode) {
      case Rcode.NOTAUTH ->
          " (check the key's name, algorithm and secret, and the clocks: TSIG allows 300 s of skew)";
      case Rcode.REFUSED -> " (the server's update-policy does not let this key update the zone)";
      case Rcode.NOTZONE -> " (check dns.update.zone and dns.update.reverse-zone)";
      default -> "";
    };
  }

  /** Stops sending; pending updates are dropped. */
  @Override
  public void close() {
    executor.shutdownNow();
  }
}
