package org.clonecast.agent.cli;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Signature;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.clonecast.agent.capture.CaptureUploader;
import org.clonecast.agent.disk.DiskInventory;
import org.clonecast.agent.disk.EspCheck;
import org.clonecast.agent.disk.Grow;
import org.clonecast.agent.disk.IdentityFixer;
import org.clonecast.agent.disk.SystemMount;
import org.clonecast.agent.disk.TargetCheck;
import org.clonecast.agent.mcast.McastReceiver;
import org.clonecast.agent.mcast.ReceiveResult;
import org.clonecast.agent.mcast.ReceiveSettings;
import org.clonecast.agent.report.ServerClient;
import org.clonecast.agent.unicast.ChunkFetcher;
import org.clonecast.agent.unicast.UnicastFallback;
import org.clonecast.common.api.Assignment;
import org.clonecast.common.api.Progress;
import org.clonecast.common.cli.CliException;
import org.clonecast.common.cli.ExitCodes;
import org.clonecast.common.cli.ShutdownHook;
import org.clonecast.common.concurrent.DaemonThreads;
import org.clonecast.common.disk.DiskAllocation;
import org.clonecast.common.disk.DiskPlan;
import org.clonecast.common.net.NetInterface;
import org.clonecast.common.net.Transport;
import org.clonecast.common.trust.ImageTrust;
import org.clonecast.protocol.image.AllocationMap;
import org.clonecast.protocol.image.ChunkCodec;
import org.clonecast.protocol.image.Manifest;
import org.clonecast.protocol.image.Sha256;
import org.clonecast.protocol.mcast.McastAuth;
import org.clonecast.protocol.wire.Ipv4;
import org.clonecast.protocol.wire.MacAddress;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code clonecast-agent auto}: the whole job on a netbooted node, unattended. Registers with the
 * server, receives its assignment, takes the image from the session's multicast into the target
 * disk (every chunk verified, the disk flushed), gives the written system its own identity, and
 * reports each step and the result. A golden node marked for capture instead reads its disk
 * (read-only) and uploads it to the server's image store ({@link CaptureUploader}). The server, MAC
 * and per-boot secret come from the kernel command line the iPXE script set ({@code
 * clonecast.server=URL clonecast.mac=MAC clonecast.secret=S}) unless given as flags; an agent
 * started by hand without a secret asks for its node's script as iPXE would, which carries one only
 * when asked from the node's own address (docs/security.md).
 */
@Command(
    name = "auto",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = {
      "Unattended re-imaging: register with the server, receive the assigned image, write and verify the",
      "disk, fix the node's identity, report; or, on a golden node marked for capture, upload its disk (read-only).",
      "Reads clonecast.server=, clonecast.mac= and clonecast.secret= from /proc/cmdline.",
      "Exit status 0 when re-imaged or when there is nothing to do (the node then boots its disk), 1 on failure."
    })
public final class AutoCommand implements Callable<Integer> {
  /**
   * How often at most a node waiting for its session ({@code --wait-for-session}) asks the server
   * again when the server does not hold its registration open.
   */
  static final Duration WAIT_POLL = Duration.ofSeconds(1);

  /**
   * The longest a waiting node asks the server to hold its registration (a long poll, answered as
   * soon as its session starts); the server may hold less ({@code http.register-hold}).
   */
  static final Duration LONG_POLL = Duration.ofSeconds(25);

  /** Multicast silence after which a node fetches by unicast (docs/unicast.md). */
  static final Duration DEFAULT_UNICAST_AFTER = Duration.ofSeconds(10);

  @Option(
      names = "--server",
      paramLabel = "URL",
      description =
          "The daemon, e.g. http://10.0.0.1:8080, or several separated by commas: its failover"
              + " partners after it (default: clonecast.server= of the kernel command line).")
  String server;

  @Option(
      names = "--mac",
      paramLabel = "MAC",
      description = "This node's boot MAC (default: clonecast.mac=, or --interface's address).")
  String mac;

  @Option(
      names = "--secret",
      paramLabel = "SECRET",
      description =
          "This boot's node secret (default: clonecast.secret=, else"
              + " the one in the node's iPXE script, which the server hands only to the node's own address).")
  String secret;

  @Option(
      names = "--interface",
      paramLabel = "IF",
      description = "Interface to receive on (default: the one with the boot MAC).")
  String iface;

  @Mixin TrustOptions trust = new TrustOptions();

  @Option(names = "--cmdline", paramLabel = "FILE", defaultValue = "/proc/cmdline", hidden = true)
  Path cmdline;

  @Option(names = "--sys-block", paramLabel = "DIR", defaultValue = "/sys/block", hidden = true)
  Path sysBlock;

  @Option(
      names = "--join-timeout",
      paramLabel = "SECONDS",
      defaultValue = "600",
      description =
          "Give up when the session's sender does not take us in this time (default: ${DEFAULT-VALUE}).")
  long joinTimeout;

  @Option(
      names = "--sender-timeout",
      paramLabel = "SECONDS",
      description =
          "Fail the receive when the joined sender is silent this long (default: clonecast.sender-timeout= of the kernel"
              + " command line, else 30).")
  Long senderTimeout;

  @Option(
      names = "--unicast-after",
      paramLabel = "SECONDS",
      description = {
        "Fetch the missing chunks from the daemon over HTTP when no multicast data has arrived for",
        "this long while the session's multicast runs (a blocked group, a snooping switch, a firewall;",
        "docs/unicast.md). 0: never. Default: clonecast.unicast-after= of the kernel command line, else 10."
      })
  Long unicastAfter;

  @Option(
      names = "--grow",
      description = {
        "Grow the last partition and its filesystem (ext2/3/4, xfs, btrfs) to fill a disk larger",
        "than the image (default: the session's --grow, or clonecast.grow=1 of the kernel command line)."
      })
  boolean grow;

  @Option(
      names = "--wait-for-session",
      paramLabel = "SECONDS",
      description = {
        "When the server has no session for this node yet, wait for one for up to this long (a node booted",
        "ahead of its session waits for it): the server holds the node's registration and answers when the",
        "session starts (an older server: asked again every second). Default: clonecast.wait-for-session= of",
        "the kernel command line, else 0: boot the local disk at once."
      })
  Long waitForSession;

  /** For before/after measurements (bench/delta.sh --no-warm-up): no warm-up while waiting. */
  @Option(names = "--no-warm-up", hidden = true)
  boolean noWarmUp;

  @Option(
      names = "--no-check",
      description = {
        "Do not hash what the target already holds: receive every chunk (a full re-image of this node).",
        "By default the target is checked first and only chunks that differ are received (docs/reimaging.md)."
      })
  boolean noCheck;

  @Option(
      names = "--capture-stall-timeout",
      paramLabel = "SECONDS",
      defaultValue = "600",
      description =
          "Fail a capture when its upload makes no progress for this long (default: ${DEFAULT-VALUE}).")
  long captureStall;

  /**
   * When picocli made this command, right after the JVM's start: the capture's summary counts from
   * it.
   */
  private final long started = System.nanoTime();

  @Override
  public Integer call() throws Exception {
    Map<String, String> kernel = kernelArgs();
    grow = grow(kernel);
    String url = server != null ? server : kernel.get("clonecast.server");
    if (url == null) {
      throw new CliException(
          ExitCodes.USAGE,
          "no server: pass --server URL or boot with clonecast.server=URL on the kernel command line");
    }
    Duration senderWait = senderTimeout(senderTimeout, kernel);
    Duration fallbackAfter = unicastAfter(unicastAfter, kernel);
    NetInterface nif = interfaceFor(kernel);
    String myMac = mac != null ? mac : kernel.getOrDefault("clonecast.mac", macOf(nif));
    myMac = MacAddress.parse(myMac.replace('-', ':')).toString();
    List<URI> servers;
    try {
      servers = ServerClient.parseServers(url);
    } catch (IllegalArgumentException e) {
      throw new CliException(ExitCodes.USAGE, e.getMessage() + " (--server or clonecast.server=)");
    }
    String nodeSecret = secretFor(servers.get(0).toString(), myMac, kernel);
    ServerClient api = new ServerClient(servers, nodeSecret);
    System.err.println(
        "clonecast-agent: "
            + myMac
            + " on "
            + nif.name()
            + " ("
            + nif.address().getHostAddress()
            + "), server "
            + url);

    Duration waitFor = waitForSession(waitForSession, kernel);
    String registerAs = myMac;
    AtomicBoolean warmedUp = new AtomicBoolean();
    Assignment assigned =
        awaitAssignment(
            hold ->
                api.register(
                    registerAs,
                    DiskInventory.list(sysBlock),
                    Runtime.getRuntime().availableProcessors(),
                    memoryBytes(),
                    hold),
            waitFor,
            WAIT_POLL,
            LONG_POLL,
            System::nanoTime,
            d -> Thread.sleep(d.toMillis()),
            why -> {
              System.err.println(
                  "clonecast-agent: no session yet ("
                      + why
                      + "); waiting for one for up to "
                      + waitFor.toSeconds()
                      + " s");
              if (!noWarmUp) warmUp(warmedUp);
            });
    warmedUp.set(true);
    if (assigned instanceof Assignment.Reimage a) {
      ImageTrust imageTrust;
      try {
        imageTrust = trust.resolve(); // only a re-image needs it: a capture writes nothing here
      } catch (CliException e) {
        return fail(api, myMac, a, e.getMessage());
      }
      return reimage(api, myMac, nif, a, imageTrust, nodeSecret, senderWait, fallbackAfter);
    }
    if (assigned instanceof Assignment.Capture c) {
      return capture(api, myMac, c);
    }
    if (assigned instanceof Assignment.Fail f) {
      throw new CliException(
          ExitCodes.FAILED,
          "the server failed this node: " + (f.reason() == null ? "no reason given" : f.reason()));
    }
    Assignment.None none = (Assignment.None) assigned;
    System.err.println(
        "clonecast-agent: nothing to do ("
            + (none.reason() == null ? "no session" : none.reason())
            + "); boot the local disk");
    return ExitCodes.OK;
  }

  /**
   * How many times a node whose receive failed goes on with the daemon that took it over (its own
   * stopped answering: docs/scale.md, "Failover").
   */
  static final int FAILOVERS = 3;

  private int failovers;

  /**
   * After a failed receive, with failover partners to call: registers again, and when another
   * daemon now serves this node in the same session (another sender), its assignment. The disk is
   * checked again against the manifest, so only what it lacks is sent. Empty: report the failure.
   */
  private Optional<Assignment.Reimage> takenOver(
      ServerClient api, String myMac, Assignment.Reimage a, String why)
      throws InterruptedException {
    if (api.servers().size() < 2 || failovers >= FAILOVERS) return Optional.empty();
    try {
      Assignment again =
          api.register(
              myMac,
              DiskInventory.list(sysBlock),
              Runtime.getRuntime().availableProcessors(),
              memoryBytes());
      if (again instanceof Assignment.Reimage b
          && b.session() == a.session()
          && !b.control().equals(a.control())) {
        failovers++;
        System.err.println(
            "clonecast-agent: "
                + why
                + "; session "
                + a.session()
                + " goes on from "
                + api.server()
                + " (sender "
                + b.control()
                + ")");
        return Optional.of(b);
      }
    } catch (IOException e) {
      System.err.println("clonecast-agent: registering again failed: " + e.getMessage());
    }
    return Optional.empty();
  }

  private int reimage(
      ServerClient api,
      String myMac,
      NetInterface nif,
      Assignment.Reimage a,
      ImageTrust imageTrust,
      String nodeSecret,
      Duration senderWait,
      Duration fallbackAfter)
      throws Exception {
    URI serverUri = api.server();
    Path target = Path.of(a.target());
    System.err.printf(
        "clonecast-agent: session %d as %s: writing %s%n", a.session(), a.hostname(), target);
    AtomicLong done = new AtomicLong();
    AtomicLong total = new AtomicLong(a.logicalSize());
    AtomicReference<String> mismatch = new AtomicReference<>();
    ScheduledExecutorService ticker =
        Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("report"));
    McastReceiver[] receiver = new McastReceiver[1];
    Optional<UnicastFallback> unicast =
        fallbackAfter.isZero()
            ? Optional.empty()
            : Optional.of(
                new UnicastFallback(
                    new ChunkFetcher(serverUri, a.session(), myMac, nodeSecret), fallbackAfter));
    LongSupplier unicastBytes = () -> unicast.map(UnicastFallback::unicastBytes).orElse(0L);
    try {
      String[] hp = a.control().split(":");
      InetSocketAddress control = new InetSocketAddress(Ipv4.parse(hp[0]), Integer.parseInt(hp[1]));
      // The HELLO proves this is the node: only its agent knows the secret whose hash the daemon
      // keeps.
      byte[] secretBytes = nodeSecret.getBytes(StandardCharsets.US_ASCII);
      byte[] proof =
          McastAuth.joinProof(
              Sha256.digest(secretBytes, 0, secretBytes.length).bytes(), a.session(), a.hostname());
      ReceiveSettings rs =
          new ReceiveSettings(
              nif.name(),
              control.getPort(),
              control,
              target,
              a.hostname(),
              Duration.ofSeconds(joinTimeout),
              Math.max(2, Runtime.getRuntime().availableProcessors()),
              ReceiveSettings.DEFAULT_IGMP_REJOIN,
              senderWait,
              imageTrust,
              Optional.of(proof),
              !noCheck);
      receiver[0] =
          new McastReceiver(
              rs,
              nif,
              new McastReceiver.Listener() {
                @Override
                public Optional<String> refusal(Manifest m) {
                  // Never read, check or write for an image other than the one the server assigned
                  // (a stale or foreign sender).
                  if (a.imageIdIfKnown().isPresent()
                      && !a.imageIdIfKnown().get().equals(m.imageId().toString())) {
                    mismatch.set(
                        "the sender offers image "
                            + m.imageId()
                            + ", the server assigned "
                            + a.imageIdIfKnown().get());
                    return Optional.of(mismatch.get());
                  }
                  return Optional.empty();
                }

                @Override
                public void progress(long written, long data, int chunksWritten, int chunksNeeded) {
                  done.set(written);
                  total.set(data);
                }

                @Override
                public void checked(TargetCheck.Result c) {
                  System.err.printf(
                      Locale.ROOT,
                      "clonecast-agent: disk checked: %d chunks already right, %d to receive, %d to zero (%.1f s)%n",
                      c.chunksRight(),
                      c.needed().cardinality(),
                      c.zeros().size(),
                      c.nanos() / 1e9);
                }
              });
      unicast.ifPresent(receiver[0]::unicastFallback);
      ticker.scheduleWithFixedDelay(
          () -> {
            try {
              api.progress(
                  myMac,
                  a.session(),
                  Progress.Phase.RECEIVING,
                  done.get(),
                  total.get(),
                  unicastBytes.getAsLong());
            } catch (IOException e) {
              System.err.println("clonecast-agent: progress report failed: " + e.getMessage());
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          },
          0,
          1,
          TimeUnit.SECONDS);
      ReceiveResult r;
      try (ShutdownHook hook =
          ShutdownHook.install("auto-interrupt", () -> receiver[0].stop("interrupted"))) {
        r = receiver[0].start().get();
      }
      ticker.shutdownNow();
      if (!r.ok() && mismatch.get() == null) {
        Optional<Assignment.Reimage> next =
            takenOver(api, myMac, a, "receive failed: " + r.reason());
        if (next.isPresent()) {
          return reimage(
              api, myMac, nif, next.get(), imageTrust, nodeSecret, senderWait, fallbackAfter);
        }
      }
      if (!r.ok()) {
        return fail(
            api,
            myMac,
            a,
            mismatch.get() != null ? mismatch.get() : "receive failed: " + r.reason());
      }
      // Of what this node wrote (the bytes it lacked), what came by each path.
      String path = path(done.get(), unicastBytes.getAsLong());
      System.err.printf(
          Locale.ROOT,
          "clonecast-agent: %d bytes written and verified in %.1f s, %s%n",
          r.bytesWritten(),
          r.nanos() / 1e9,
          path);
      api.progress(
          myMac,
          a.session(),
          Progress.Phase.IDENTITY,
          total.get(),
          total.get(),
          unicastBytes.getAsLong());
      IdentityFixer.Report id;
      try {
        for (String s :
            Grow.afterWrite(
                target, grow || a.grow(), Path.of(System.getProperty("java.io.tmpdir"))))
          System.err.println("  " + s);
      } catch (IllegalArgumentException e) {
        // The image's own table is damaged; the verified bytes are what the golden disk held.
        System.err.println(
            "clonecast-agent: warning: the backup GPT was left where the image put it: "
                + e.getMessage());
      }
      try (SystemMount m =
          SystemMount.open(target, Path.of(System.getProperty("java.io.tmpdir")))) {
        id =
            IdentityFixer.apply(
                m.root(), new IdentityFixer.NodeIdentity(a.hostname(), a.domainIfAny(), a.files()));
        if (id.sshHostKey().isPresent()) {
          List<String> names = new ArrayList<>(List.of(a.hostname()));
          a.domainIfAny().ifPresent(d -> names.add(a.hostname() + "." + d));
          names.add(nif.address().getHostAddress());
          List<String> more =
              IdentityFixer.installKnownHosts(
                  m.root(), publishedKnownHosts(api), names, id.sshHostKey().get(), serverUri);
          List<String> all = new ArrayList<>(id.changes());
          all.addAll(more);
          id = new IdentityFixer.Report(all, id.sshHostKey());
        }
      } catch (IOException | IllegalStateException e) {
        return fail(
            api,
            myMac,
            a,
            "the image is written and verified, but its identity could not be set: "
                + e.getMessage());
      }
      id.changes().forEach(c -> System.err.println("  " + c));
      if (Files.isDirectory(Path.of("/sys/firmware/efi"))) {
        // Booted by UEFI, so the clone will be too: its firmware must find the cloned loader by
        // itself.
        try {
          EspCheck.problem(target)
              .ifPresent(p -> System.err.println("clonecast-agent: warning: " + p));
        } catch (IOException e) {
          System.err.println(
              "clonecast-agent: warning: could not check the EFI system partition: "
                  + e.getMessage());
        }
      }
      api.result(
          myMac,
          a.session(),
          true,
          String.format(
              Locale.ROOT,
              "%d bytes written and verified in %.1f s (%s), identity %s",
              r.bytesWritten(),
              r.nanos() / 1e9,
              path,
              a.hostname()),
          id.sshHostKey(),
          unicastBytes.getAsLong());
      System.err.println("clonecast-agent: re-imaged as " + a.hostname());
      return ExitCodes.OK;
    } catch (ExecutionException e) {
      ticker.shutdownNow();
      Optional<Assignment.Reimage> next =
          takenOver(api, myMac, a, "receive failed: " + e.getCause().getMessage());
      if (next.isPresent()) {
        return reimage(
            api, myMac, nif, next.get(), imageTrust, nodeSecret, senderWait, fallbackAfter);
      }
      return fail(api, myMac, a, "receive failed: " + e.getCause().getMessage());
    } catch (IOException | IllegalArgumentException e) {
      return fail(api, myMac, a, e.getMessage());
    } finally {
      ticker.shutdownNow();
    }
  }

  /**
   * Captures the assigned disk into the server's image store (read-only) and reports; the server
   * publishes the image and sets this node to boot its disk again.
   */
  private int capture(ServerClient api, String myMac, Assignment.Capture c)
      throws InterruptedException {
    Path disk = Path.of(c.disk());
    System.err.printf(
        Locale.ROOT,
        "clonecast-agent: capture %d: reading %s into image %s (read-only, zstd level %d), %s%n",
        c.capture(),
        disk,
        c.image(),
        c.level(),
        sinceStart());
    CaptureUploader.Result r;
    try {
      AllocationMap map = allocationFor(disk, c.force());
      r =
          new CaptureUploader(
                  api,
                  new CaptureUploader.Settings(
                      c,
                      myMac,
                      disk,
                      map,
                      Math.max(1, Runtime.getRuntime().availableProcessors()),
                      Duration.ofSeconds(captureStall)))
              .run();
    } catch (IOException | RuntimeException e) {
      String why = "capture failed: " + e.getMessage();
      try {
        api.captureFailed(c.capture(), myMac, why);
      } catch (IOException report) {
        System.err.println("clonecast-agent: could not report the failure: " + report.getMessage());
      }
      throw new CliException(ExitCodes.FAILED, why);
    }
    System.err.printf(
        Locale.ROOT,
        "clonecast-agent: captured %s as %s in %.1f s: %d chunks uploaded (%d bytes), %d by"
            + " reference to the server's pool (%d bytes not sent, %d references it could not"
            + " serve), %d already held by the server, %d sent twice, %d retries; %d chunks, %d"
            + " bytes stored, sha256 %s; %s%n",
        disk,
        c.image(),
        r.nanos() / 1e9,
        r.uploaded(),
        r.uploadedBytes(),
        r.referenced(),
        r.referencedBytes(),
        r.referencesRefused(),
        r.held(),
        r.duplicates(),
        r.retries(),
        r.manifest().chunkCount(),
        r.manifest().storedBytes(),
        r.manifest().imageHash().hex(),
        r.times().summary());
    return ExitCodes.OK;
  }

  /**
   * How long since this command began, e.g. "1.2 s after the command's start": the server's script
   * and the registration, before any capture work (the JVM's own start, about 0.3–0.8 s, comes
   * before it; a process's start time from /proc is only as exact as the boot time it counts from,
   * a second, and the JVM's uptime needs java.management, which the netboot JRE leaves out).
   */
  private String sinceStart() {
    return String.format(
        Locale.ROOT, "%.1f s after the command's start", (System.nanoTime() - started) / 1e9);
  }

  /**
   * Which bytes of {@code disk} the image carries: everything outside partitions and each
   * filesystem's used blocks (docs/capture.md). A filesystem mounted read-write or not clean is
   * refused unless {@code force}, and the refusal names it and the fix.
   */
  private static AllocationMap allocationFor(Path disk, boolean force) throws IOException {
    DiskPlan plan = DiskAllocation.plan(disk, force);
    System.err.println("clonecast-agent: " + plan.describe());
    return plan.map();
  }

  /**
   * The server's known_hosts now; empty (with a note) when it cannot be had: the clone fetches it
   * again at boot.
   */
  private static String publishedKnownHosts(ServerClient api) throws InterruptedException {
    try {
      return api.knownHosts();
    } catch (IOException e) {
      System.err.println(
          "clonecast-agent: known_hosts not fetched now ("
              + e.getMessage()
              + "); the node fetches it at boot");
      return "";
    }
  }

  /** Tells the server (best effort) and fails the command with the same reason. */
  private static int fail(ServerClient api, String mac, Assignment.Reimage a, String why)
      throws InterruptedException {
    try {
      api.result(mac, a.session(), false, why, Optional.empty(), 0);
    } catch (IOException e) {
      System.err.println("clonecast-agent: could not report the failure: " + e.getMessage());
    }
    throw new CliException(ExitCodes.FAILED, why);
  }

  /**
   * This boot's node secret: --secret, clonecast.secret=, or the one in a freshly fetched script
   * for this MAC (which revokes any earlier one).
   */
  private String secretFor(String url, String myMac, Map<String, String> kernel)
      throws IOException, InterruptedException {
    String s = secret != null ? secret : kernel.get("clonecast.secret");
    if (s != null) return s;
    HttpClient http = ServerClient.httpClient(URI.create(url)).build();
    HttpResponse<String> r =
        http.send(
            HttpRequest.newBuilder(URI.create(url).resolve("/boot/" + myMac + ".ipxe"))
                .timeout(Duration.ofSeconds(15))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    Matcher m = Pattern.compile("clonecast\\.secret=([0-9a-f]+)").matcher(r.body());
    if (r.statusCode() != 200 || !m.find()) {
      String why =
          r.body()
              .lines()
              .filter(l -> l.startsWith("echo "))
              .findFirst()
              .map(l -> l.substring(5))
              .orElse("HTTP " + r.statusCode());
      throw new CliException(
          ExitCodes.FAILED,
          "no node secret: not on the kernel command line, no --secret, and the server's script"
              + " for "
              + myMac
              + " carries none ("
              + why
              + ")");
    }
    return m.group(1);
  }

  /**
   * How long the joined sender may be silent: {@code --sender-timeout}, else {@code
   * clonecast.sender-timeout=} of the kernel command line ({@code boot.kernel-args}), else 30 s.
   * Longer for nodes that may stall for a while, such as emulated VMs on a loaded host.
   */
  static Duration senderTimeout(Long flag, Map<String, String> kernel) {
    return seconds(
        flag,
        kernel,
        "sender-timeout",
        "sender timeout",
        1,
        ReceiveSettings.DEFAULT_SENDER_TIMEOUT);
  }

  /**
   * Whole seconds from {@code --NAME}, else {@code clonecast.NAME=} of the kernel command line,
   * else {@code otherwise}; outside {@code min}..86400 a usage error naming both places.
   */
  private static Duration seconds(
      Long flag,
      Map<String, String> kernel,
      String name,
      String what,
      long min,
      Duration otherwise) {
    String text = flag != null ? flag.toString() : kernel.get("clonecast." + name);
    if (text == null) return otherwise;
    long seconds;
    try {
      seconds = Long.parseLong(text);
    } catch (NumberFormatException e) {
      seconds = -1;
    }
    if (seconds < min || seconds > 86_400) {
      throw new CliException(
          ExitCodes.USAGE,
          what
              + " '"
              + text
              + "' (clonecast."
              + name
              + "= or --"
              + name
              + "): want whole seconds, "
              + min
              + "..86400");
    }
    return Duration.ofSeconds(seconds);
  }

  /**
   * The multicast silence after which the agent fetches by unicast: {@code --unicast-after}, else
   * {@code clonecast.unicast-after=} of the kernel command line, else 10 s; zero: never.
   */
  static Duration unicastAfter(Long flag, Map<String, String> kernel) {
    return seconds(flag, kernel, "unicast-after", "unicast-after", 0, DEFAULT_UNICAST_AFTER);
  }

  /** Chunks of 1 MiB the check's code runs over while the node waits for its session. */
  static final int WARM_UP_CHUNKS = 96;

  /**
   * While the node waits for its session, has the JIT compile the disk check's hashing ({@link
   * TargetCheck#warmUp}) on a thread of low priority, until done or {@code stop} is set (the
   * session came). The agent has nothing else to do then; a node started for its session does not
   * warm up (it would only compete with its own start).
   */
  private static void warmUp(AtomicBoolean stop) {
    Thread t =
        new Thread(
            () -> {
              long t0 = System.nanoTime();
              // The native libraries a receive loads first (zstd's is unpacked from the jar).
              ChunkCodec.nativeLibraryProblem();
              Transport.epoll();
              warmUpSignatures(stop);
              int done = TargetCheck.warmUp(WARM_UP_CHUNKS, 1 << 20, stop::get);
              if (done == WARM_UP_CHUNKS) {
                System.err.printf(
                    Locale.ROOT,
                    "clonecast-agent: warmed up while waiting: the disk check's code compiled (%d MiB in %.1f s)%n",
                    done,
                    (System.nanoTime() - t0) / 1e9);
              }
            },
            "check-warm-up");
    t.setDaemon(true);
    t.setPriority(Thread.MIN_PRIORITY);
    t.start();
  }

  /** Ed25519 key pairs made, signed with and checked while waiting ({@link #warmUpSignatures}). */
  static final int WARM_UP_SIGNATURES = 6;

  /**
   * Runs Ed25519 as a session will, a few times: the join checks the manifest's signature and the
   * identity step makes the node's SSH host key. The JDK's Ed25519 is Java code; run first in a
   * fresh JVM it is interpreted, and profiles of the delta bench put 0.3-0.5 s of each agent's join
   * in it (docs/benchmarks.md). A JDK without Ed25519 is not this method's problem: the join says
   * so.
   */
  static int warmUpSignatures(AtomicBoolean stop) {
    byte[] message = new byte[64];
    int done = 0;
    try {
      KeyPairGenerator gen = KeyPairGenerator.getInstance("Ed25519");
      for (; done < WARM_UP_SIGNATURES && !stop.get(); done++) {
        KeyPair kp = gen.generateKeyPair();
        Signature sign = Signature.getInstance("Ed25519");
        sign.initSign(kp.getPrivate());
        message[done] = (byte) done;
        sign.update(message);
        byte[] sig = sign.sign();
        Signature check = Signature.getInstance("Ed25519");
        check.initVerify(kp.getPublic());
        check.update(message);
        if (!check.verify(sig)) throw new IllegalStateException("Ed25519 failed its own check");
      }
    } catch (GeneralSecurityException e) {
      // A JDK without Ed25519: the join says so, naming the image's signature.
    }
    return done;
  }

  /** One registration with the server, which may hold it for up to {@code hold}. */
  interface Registration {
    Assignment register(Duration hold) throws IOException, InterruptedException;
  }

  /** A bounded pause. */
  interface Pause {
    void sleep(Duration d) throws InterruptedException;
  }

  /**
   * Registers until the server has something for this node or {@code wait} has passed: an
   * assignment other than {@link Assignment.None} is returned at once, and the last None when the
   * time is up. {@code wait} zero: one registration. The first registration is answered at once
   * ({@code waiting} is then told its reason, once); the next ones ask the server to hold them for
   * up to {@code longPoll} (what remains of the wait at most), so that the session reaches the node
   * the moment it starts, and are made again at once. A None that comes back sooner than {@code
   * poll} after a hold was asked for (a server that does not hold registrations, or holds as many
   * as it will) is asked again only once {@code poll} has passed since the last ask.
   */
  static Assignment awaitAssignment(
      Registration registration,
      Duration wait,
      Duration poll,
      Duration longPoll,
      LongSupplier nanos,
      Pause pause,
      Consumer<String> waiting)
      throws IOException, InterruptedException {
    long deadline = nanos.getAsLong() + wait.toNanos();
    boolean told = false;
    Duration hold = Duration.ZERO;
    while (true) {
      long asked = nanos.getAsLong();
      Assignment a = registration.register(hold);
      if (!(a instanceof Assignment.None none)) return a;
      long now = nanos.getAsLong();
      long left = deadline - now;
      if (left <= 0) return a;
      if (!told) {
        waiting.accept(none.reason() == null ? "no session" : none.reason());
        told = true;
      }
      if (!hold.isZero()) {
        long early = poll.toNanos() - (now - asked);
        if (early > 0) pause.sleep(Duration.ofNanos(Math.min(left, early)));
      }
      // Whole seconds on the wire, never past the wait: under a second left, that is waited out
      // here and the last ask is answered at once.
      left = deadline - nanos.getAsLong();
      long seconds = Math.min(longPoll.toSeconds(), Math.max(0, left) / 1_000_000_000L);
      if (seconds == 0 && left > 0) pause.sleep(Duration.ofNanos(left));
      hold = Duration.ofSeconds(seconds);
    }
  }

  /**
   * How long a node with no session yet waits for one: {@code --wait-for-session}, else {@code
   * clonecast.wait-for-session=} of the kernel command line, else zero (it boots its disk at once).
   */
  static Duration waitForSession(Long flag, Map<String, String> kernel) {
    return seconds(flag, kernel, "wait-for-session", "wait-for-session", 0, Duration.ZERO);
  }

  /** "by multicast", "by unicast", "by multicast and unicast (N bytes unicast)". */
  static String path(long written, long unicastBytes) {
    if (unicastBytes <= 0) return "by multicast";
    if (unicastBytes >= written) return "by unicast";
    return "by multicast and unicast (" + unicastBytes + " bytes unicast)";
  }

  /** key=value words of the kernel command line. */
  /**
   * --grow, else clonecast.grow=1 (or yes, true) of the kernel command line ({@code
   * boot.kernel-args}).
   */
  private boolean grow(Map<String, String> kernel) {
    return grow || List.of("1", "yes", "true").contains(kernel.getOrDefault("clonecast.grow", "0"));
  }

  private Map<String, String> kernelArgs() throws IOException {
    Map<String, String> out = new HashMap<>();
    if (!Files.isReadable(cmdline)) return out;
    for (String w : Files.readString(cmdline).trim().split("\\s+")) {
      int eq = w.indexOf('=');
      if (eq > 0) out.put(w.substring(0, eq), w.substring(eq + 1));
    }
    return out;
  }

  private NetInterface interfaceFor(Map<String, String> kernel) throws IOException {
    if (iface != null) return NetInterface.forCommand(iface);
    String want = mac != null ? mac : kernel.get("clonecast.mac");
    if (want != null) {
      MacAddress m = MacAddress.parse(want.replace('-', ':'));
      for (NetworkInterface n : Collections.list(NetworkInterface.getNetworkInterfaces())) {
        byte[] hw = n.getHardwareAddress();
        if (hw != null && hw.length == 6 && MacAddress.of(hw).equals(m))
          return NetInterface.forCommand(n.getName());
      }
      throw new CliException(
          ExitCodes.ENVIRONMENT,
          "no interface has the boot MAC "
              + m
              + "; interfaces: "
              + String.join(", ", NetInterface.names())
              + " (pass --interface)");
    }
    throw new CliException(
        ExitCodes.USAGE,
        "no interface: pass --interface IF, --mac MAC, or boot with clonecast.mac=MAC");
  }

  private static String macOf(NetInterface nif) throws IOException {
    byte[] hw = nif.nif().getHardwareAddress();
    if (hw == null || hw.length != 6)
      throw new CliException(
          ExitCodes.ENVIRONMENT, nif.name() + " has no Ethernet address; pass --mac");
    return MacAddress.of(hw).toString();
  }

  private static long memoryBytes() {
    try {
      for (String l : Files.readAllLines(Path.of("/proc/meminfo"))) {
        if (l.startsWith("MemTotal:")) return Long.parseLong(l.replaceAll("\\D", "")) * 1024;
      }
    } catch (IOException | NumberFormatException e) {
      // unknown: reported as 0
    }
    return 0;
  }
}
