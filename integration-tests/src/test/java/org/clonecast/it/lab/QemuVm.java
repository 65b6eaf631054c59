package org.clonecast.it.lab;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;
import org.clonecast.protocol.wire.MacAddress;

/**
 * A QEMU virtual machine that network-boots on a {@link Lab}'s bridge through its own tap device,
 * under software emulation ({@code -accel tcg}: this machine's KVM cannot run firmware, see
 * docs/ref/pxe-firmware.md §7), with its first serial port written to a log file.
 *
 * <p>Firmware, NIC and PXE client:
 *
 * <ul>
 *   <li>{@link Firmware#BIOS_IPXE}: SeaBIOS, e1000 (virtio-net with {@link Builder#virtioNet}),
 *       QEMU's iPXE NIC ROM (a PXE client that already sends user-class iPXE and option 175).
 *   <li>{@link Firmware#UEFI_EDK2}: OVMF ({@code OVMF_CODE_4M.fd} and a private copy of {@code
 *       OVMF_VARS_4M.fd}), q35, virtio-net with an empty {@code romfile=}, so EDK2's own PXE (arch
 *       7, not iPXE) boots: the vendor-like firmware client.
 *   <li>{@link Firmware#UEFI_IPXE}: the same with QEMU's iPXE EFI NIC ROM.
 *   <li>{@link Firmware#UEFI_SECURE_BOOT}: OVMF with Secure Boot enforced ({@code
 *       OVMF_CODE_4M.secboot.fd}, SMM on and the flash secure, as it requires, and a private copy
 *       of {@code OVMF_VARS_4M.ms.fd}, which enrols Microsoft's keys: what a vendor's machine
 *       ships), EDK2's own PXE as in UEFI_EDK2. It runs only signed code: Microsoft-signed shim,
 *       and what shim verifies.
 * </ul>
 *
 * The VM has a fixed MAC, an optional raw virtio disk (booted after the network), {@code
 * -no-reboot} (a guest reboot or poweroff ends QEMU) and no display. QEMU runs in the lab's switch
 * namespace, where its tap is; it is a lab process, so {@link Lab#close()} kills it even if the
 * test fails, and the tap and the VARS copy go with the lab. {@link #close()} stops it earlier.
 *
 * <p>At most {@link #MAX_RUNNING} VMs run at once in this JVM (each would take one core under TCG;
 * three share this machine's two, as one session's BIOS, UEFI and Secure Boot nodes must); {@link
 * Builder#start()} waits for a slot.
 *
 * <p>Thread-safe.
 */
public final class QemuVm implements AutoCloseable {
  /** VMs running at once in one JVM. */
  public static final int MAX_RUNNING = 3;

  /** How long {@link Builder#start()} waits for a free slot. */
  public static final Duration SLOT_WAIT = Duration.ofSeconds(600);

  private static final Semaphore SLOTS = new Semaphore(MAX_RUNNING, true);
  private static final Path OVMF_CODE = Path.of("/usr/share/OVMF/OVMF_CODE_4M.fd");
  private static final Path OVMF_VARS = Path.of("/usr/share/OVMF/OVMF_VARS_4M.fd");
  private static final Path OVMF_CODE_SECBOOT = Path.of("/usr/share/OVMF/OVMF_CODE_4M.secboot.fd");
  private static final Path OVMF_VARS_MS = Path.of("/usr/share/OVMF/OVMF_VARS_4M.ms.fd");
  private static final Duration POLL = Duration.ofMillis(250);

  /** How long {@link #awaitShell} waits for one probe's answer before typing the next. */
  private static final Duration PROBE_EVERY = Duration.ofSeconds(15);

  /** A probe's answer, not its echoed command line (there the marker is followed by a quote). */
  private static final Pattern PROBE_ANSWER = Pattern.compile("@@[a-z0-9]+#probe\\d+:ok");

  private static final Pattern ESCAPES = Pattern.compile("\u001b\\[[0-9;?]*[A-Za-z]");

  /** The firmware and PXE client a VM boots with. */
  public enum Firmware {
    BIOS_IPXE(Duration.ofSeconds(120)),
    UEFI_EDK2(Duration.ofSeconds(240)),
    UEFI_IPXE(Duration.ofSeconds(240)),
    UEFI_SECURE_BOOT(Duration.ofSeconds(300));

    private final Duration bootTimeout;

    Firmware(Duration bootTimeout) {
      this.bootTimeout = bootTimeout;
    }

    /** A generous bound, under TCG on two loaded cores, from QEMU's start to a booted payload. */
    public Duration bootTimeout() {
      return bootTimeout;
    }

    boolean uefi() {
      return this != BIOS_IPXE;
    }

    Path code() {
      return this == UEFI_SECURE_BOOT ? OVMF_CODE_SECBOOT : OVMF_CODE;
    }

    Path vars() {
      return this == UEFI_SECURE_BOOT ? OVMF_VARS_MS : OVMF_VARS;
    }
  }

  private final String name;
  private final Firmware firmware;
  private final MacAddress mac;
  private final String tap;
  private final Path serialLog;
  private final Path consoleSocket;
  private final LabProcess process;
  private SocketChannel consoleChannel;
  private int commands;
  private final long startNanos;
  private final AtomicBoolean slotHeld = new AtomicBoolean(true);

  private QemuVm(
      String name,
      Firmware firmware,
      MacAddress mac,
      String tap,
      Path serialLog,
      Path consoleSocket,
      LabProcess process) {
    this.name = name;
    this.firmware = firmware;
    this.mac = mac;
    this.tap = tap;
    this.serialLog = serialLog;
    this.consoleSocket = consoleSocket;
    this.process = process;
    this.startNanos = System.nanoTime();
  }

  /** A VM named {@code name} (1-10 of [a-z0-9]; also its tap's name) in {@code lab}. */
  public static Builder builder(Lab lab, String name) {
    return new Builder(lab, name);
  }

  /** Options of one VM. Not thread-safe. */
  public static final class Builder {
    private final Lab lab;
    private final String name;
    private Firmware firmware = Firmware.BIOS_IPXE;
    private MacAddress mac = MacAddress.parse("52:54:00:88:00:10");
    private Path disk;
    private int memoryMib = 256;
    private boolean console;
    private boolean virtioNet;

    private Builder(Lab lab, String name) {
      this.lab = Objects.requireNonNull(lab);
      this.name = Objects.requireNonNull(name);
    }

    public Builder firmware(Firmware f) {
      this.firmware = Objects.requireNonNull(f);
      return this;
    }

    public Builder mac(MacAddress m) {
      if (m.isMulticast()) {
        throw new IllegalArgumentException("a NIC needs a unicast MAC, got " + m);
      }
      this.mac = m;
      return this;
    }

    /**
     * {@link Firmware#BIOS_IPXE} with a virtio-net NIC and QEMU's iPXE ROM for it instead of the
     * e1000: for a guest whose kernel drives virtio NICs only (the golden system's cloud kernel,
     * {@code scripts/golden-debian.sh}). The UEFI firmwares have virtio-net already.
     */
    public Builder virtioNet() {
      this.virtioNet = true;
      return this;
    }

    /** A raw disk image attached as virtio-blk, after the NIC in the boot order. */
    public Builder disk(Path raw) {
      if (!Files.isRegularFile(raw)) {
        throw new IllegalArgumentException("disk image " + raw + " does not exist");
      }
      this.disk = raw;
      return this;
    }

    /** Guest RAM; 256 MiB boots the marker payload, the netboot environment's JRE wants 512. */
    public Builder memoryMib(int mib) {
      if (mib < 128 || mib > 4096) {
        throw new IllegalArgumentException("memory must be 128..4096 MiB, got " + mib);
      }
      this.memoryMib = mib;
      return this;
    }

    /**
     * The serial port also takes input: QEMU serves it on a unix socket ({@code
     * <name>-console.sock} in the lab's directory) while still logging it to the serial log, so
     * {@link #shell} can type commands into a guest's serial console (a login shell there, e.g. an
     * autologin getty).
     */
    public Builder console() {
      this.console = true;
      return this;
    }

    /**
     * Creates the tap, waits (at most {@link #SLOT_WAIT}) for one of the {@link #MAX_RUNNING}
     * slots, and starts QEMU. Checks the tools and firmware files first ({@link Prereqs}: fails in
     * CI, skips elsewhere).
     */
    public QemuVm start() {
      Prereqs.require("qemu-system-x86_64");
      List<Path> files = new ArrayList<>();
      if (firmware.uefi()) {
        files.addAll(List.of(firmware.code(), firmware.vars()));
      }
      if (firmware == Firmware.BIOS_IPXE || firmware == Firmware.UEFI_IPXE) {
        // QEMU's iPXE NIC ROMs, package ipxe-qemu; QEMU's own error would only say "failed to find
        // romfile".
        files.add(Path.of(biosRom().orElse("/usr/lib/ipxe/qemu/efi-virtio.rom")));
      }
      for (Path f : files) {
        if (!Files.isReadable(f)) {
          Prereqs.failOrAbort(
              "missing " + f + "; run scripts/install-deps.sh (packages ovmf, ipxe-qemu)");
        }
      }
      String tapName = lab.addTap(name);
      try {
        if (!SLOTS.tryAcquire(SLOT_WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
          throw new IllegalStateException(
              "no free VM slot after "
                  + SLOT_WAIT.toSeconds()
                  + " s ("
                  + MAX_RUNNING
                  + " VMs at most)");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted waiting for a VM slot", e);
      }
      try {
        Path serial = lab.dir().resolve(name + "-serial.log");
        LabProcess p = lab.spawnInSwitch("qemu-" + name, command(tapName, serial), Map.of());
        QemuVm vm =
            new QemuVm(name, firmware, mac, tapName, serial, console ? consoleSocket() : null, p);
        // However QEMU ends (poweroff, close(), the lab's cleanup), its slot frees.
        p.onExit().thenRun(vm::releaseSlot);
        return vm;
      } catch (RuntimeException e) {
        SLOTS.release();
        throw e;
      }
    }

    /** The BIOS VM's iPXE NIC ROM (package ipxe-qemu); empty for the UEFI firmwares. */
    private Optional<String> biosRom() {
      if (firmware.uefi()) return Optional.empty();
      return Optional.of(
          virtioNet ? "/usr/lib/ipxe/qemu/efi-virtio.rom" : "/usr/lib/ipxe/qemu/pxe-e1000.rom");
    }

    private List<String> command(String tapName, Path serial) {
      String macText = mac.toString();
      List<String> cmd =
          new ArrayList<>(
              List.of(
                  "qemu-system-x86_64",
                  "-name",
                  name,
                  "-accel",
                  "tcg",
                  "-m",
                  Integer.toString(memoryMib),
                  "-smp",
                  "1",
                  "-nographic",
                  "-monitor",
                  "none",
                  "-no-reboot",
                  "-netdev",
                  "tap,id=n0,ifname=" + tapName + ",script=no,downscript=no"));
      if (console) {
        // A listening socket that does not wait for a client; logfile= records the guest's output
        // whether or not a client is connected.
        cmd.addAll(
            List.of(
                "-chardev",
                "socket,id=con0,path=" + consoleSocket() + ",server=on,wait=off,logfile=" + serial,
                "-serial",
                "chardev:con0"));
      } else {
        cmd.addAll(List.of("-serial", "file:" + serial));
      }
      if (firmware.uefi()) {
        Path vars = lab.dir().resolve(name + "-OVMF_VARS.fd");
        try {
          Files.copy(firmware.vars(), vars, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
          throw new UncheckedIOException("cannot copy " + firmware.vars(), e);
        }
        if (firmware == Firmware.UEFI_SECURE_BOOT) {
          // OVMF's Secure Boot build keeps its variables in SMM: without SMM and a secure flash it
          // does not start.
          cmd.addAll(
              List.of(
                  "-machine",
                  "q35,smm=on",
                  "-global",
                  "driver=cfi.pflash01,property=secure,value=on"));
        } else {
          cmd.addAll(List.of("-machine", "q35"));
        }
        cmd.addAll(
            List.of(
                "-drive", "if=pflash,format=raw,readonly=on,file=" + firmware.code(),
                "-drive", "if=pflash,format=raw,file=" + vars));
        // An empty romfile= removes QEMU's iPXE EFI ROM: EDK2's own PXE driver then runs the NIC.
        String rom = firmware == Firmware.UEFI_IPXE ? "" : ",romfile=";
        cmd.addAll(
            List.of("-device", "virtio-net-pci,netdev=n0,mac=" + macText + ",bootindex=1" + rom));
      } else {
        // QEMU's default ROM for the NIC: iPXE.
        cmd.addAll(
            List.of(
                "-device",
                (virtioNet ? "virtio-net-pci" : "e1000")
                    + ",netdev=n0,mac="
                    + macText
                    + ",bootindex=1"));
      }
      // The host's entropy for the guest's kernel: the JVM's SecureRandom otherwise waits 20-35 s
      // under TCG for the kernel's random number generator to be seeded.
      cmd.addAll(List.of("-device", "virtio-rng-pci"));
      if (disk != null) {
        cmd.addAll(
            List.of(
                "-drive",
                "if=none,id=d0,format=raw,file=" + disk,
                "-device",
                "virtio-blk-pci,drive=d0,bootindex=2"));
      }
      return cmd;
    }

    private Path consoleSocket() {
      return lab.dir().resolve(name + "-console.sock");
    }
  }

  public String name() {
    return name;
  }

  public Firmware firmware() {
    return firmware;
  }

  public MacAddress mac() {
    return mac;
  }

  /** The tap device on the lab's bridge. */
  public String tap() {
    return tap;
  }

  /** The guest's first serial port; kept with the lab's logs. */
  public Path serialLogPath() {
    return serialLog;
  }

  /** Everything the guest wrote to its serial port so far; invalid UTF-8 is replaced. */
  public String serialLog() {
    return LabProcess.readLog(serialLog);
  }

  /** The QEMU process (its own log holds QEMU's complaints, not the guest's output). */
  public LabProcess process() {
    return process;
  }

  public boolean isRunning() {
    return process.isAlive();
  }

  /**
   * Waits until a serial log line contains {@code marker} and returns that line (without the escape
   * codes firmware leaves on it), polling at most {@link Firmware#bootTimeout()}. Throws {@link
   * AssertionError} with the serial and QEMU log tails if QEMU exits first or time runs out.
   */
  public String awaitSerial(String marker) {
    return awaitSerial(marker, firmware.bootTimeout());
  }

  /** {@link #awaitSerial(String)} with an explicit bound. */
  public String awaitSerial(String marker, Duration timeout) {
    try {
      Awaitility.await("'" + marker + "' on " + name + "'s serial port")
          .atMost(timeout)
          .pollInterval(POLL)
          .pollInSameThread()
          .until(() -> findLine(marker).isPresent() || !process.isAlive());
    } catch (ConditionTimeoutException e) {
      throw new AssertionError(
          "no '"
              + marker
              + "' on "
              + name
              + "'s serial port after "
              + timeout.toSeconds()
              + " s"
              + describe(),
          e);
    }
    // QEMU may have written the line and exited in one poll interval: look once more.
    return findLine(marker)
        .orElseThrow(
            () ->
                new AssertionError(
                    "QEMU ("
                        + name
                        + ") exited with "
                        + process.waitFor(Duration.ofSeconds(5))
                        + " before '"
                        + marker
                        + "'"
                        + describe()));
  }

  /**
   * Waits until a shell answers on the guest's serial console (the VM was built with {@link
   * Builder#console()}), at most {@code timeout}: types a short probe, and again every {@link
   * #PROBE_EVERY} until one is answered. Call it before the first {@link #shell}: what is typed
   * while the console's getty logs in is lost (login hangs up the terminal, which discards its
   * input), and a guest under TCG on a loaded machine may take minutes from its login prompt to a
   * shell that reads. Each probe first erases a half-typed line (Ctrl-U). Throws {@link
   * AssertionError} with the log tails if no probe is answered in time or QEMU exits.
   */
  public synchronized void awaitShell(Duration timeout) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    int from = serialLog().length();
    int probes = 0;
    while (true) {
      String tag = "@@" + name + "#probe" + (++probes);
      type("\u0015echo \"" + tag + "\"\":ok\"\r");
      Duration left = Duration.ofNanos(deadline - System.nanoTime());
      Duration wait = left.compareTo(PROBE_EVERY) < 0 ? left : PROBE_EVERY;
      try {
        // Any probe's answer will do: a slow shell answers the first ones late.
        Awaitility.await("a shell on " + name + "'s console")
            .atMost(wait)
            .pollInterval(POLL)
            .pollInSameThread()
            .until(() -> PROBE_ANSWER.matcher(tail(from)).find() || !process.isAlive());
        if (!process.isAlive()) {
          throw new AssertionError(
              "QEMU (" + name + ") exited before its console answered" + describe());
        }
        return;
      } catch (ConditionTimeoutException e) {
        if (System.nanoTime() - deadline >= 0) {
          throw new AssertionError(
              "no shell answered "
                  + probes
                  + " probe(s) on "
                  + name
                  + "'s console in "
                  + timeout.toSeconds()
                  + " s"
                  + describe(),
              e);
        }
      }
    }
  }

  /**
   * Types {@code command} into the guest's serial console (a shell must be there; the VM was built
   * with {@link Builder#console()}), followed by an echo of a unique marker and the command's exit
   * status, and waits at most {@code timeout} for the marker. Returns what the command printed (the
   * lines between the echoed command line and the marker, without carriage returns and terminal
   * escape sequences) and its status. The connection stays open until {@link #close()}: QEMU drops
   * what the guest's UART has not taken yet when its client goes away.
   */
  public synchronized Shell shell(String command, Duration timeout) throws IOException {
    if (consoleSocket == null) {
      throw new IllegalStateException(name + " has no console socket; build it with console()");
    }
    if (command.contains("\n")) {
      throw new IllegalArgumentException("one line only: " + command);
    }
    String tag = "@@" + name + "#" + (++commands);
    // The echoed command line shows the marker as "@@name#n"":", the output as "@@name#n:": only
    // the output matches.
    int from = serialLog().length();
    type(command + "; echo \"" + tag + "\"\":$?\"\r");
    // Under load the UART has been seen to repeat a character (@@vm1##3 for @@vm1#3): each of the
    // marker's characters may show once or more.
    String repeatable =
        tag.chars()
            .mapToObj(c -> Pattern.quote(Character.toString(c)) + "+")
            .collect(Collectors.joining());
    Pattern done = Pattern.compile(repeatable + ":(\\d+)");
    try {
      Awaitility.await("'" + command + "' on " + name + "'s console")
          .atMost(timeout)
          .pollInterval(POLL)
          .pollInSameThread()
          .until(() -> done.matcher(tail(from)).find() || !process.isAlive());
    } catch (ConditionTimeoutException e) {
      throw new AssertionError(
          "'"
              + command
              + "' did not finish on "
              + name
              + "'s console in "
              + timeout.toSeconds()
              + " s"
              + describe(),
          e);
    }
    // Without the terminal's escape sequences (bash's bracketed-paste switches surround every line
    // typed).
    String text = ESCAPES.matcher(tail(from).replace("\r", "")).replaceAll("");
    Matcher status = done.matcher(text);
    if (!status.find()) {
      throw new AssertionError("QEMU (" + name + ") exited during '" + command + "'" + describe());
    }
    int rc = Integer.parseInt(status.group(1));
    String before = text.substring(0, status.start());
    Matcher echoed = Pattern.compile(repeatable + "\"").matcher(before);
    int start = echoed.find() ? before.indexOf('\n', echoed.start()) + 1 : 0;
    return new Shell(rc, start <= 0 ? before : before.substring(start));
  }

  /** Writes {@code text} to the console socket, connecting the first time. */
  private void type(String text) throws IOException {
    if (consoleSocket == null) {
      throw new IllegalStateException(name + " has no console socket; build it with console()");
    }
    if (consoleChannel == null) {
      consoleChannel = SocketChannel.open(UnixDomainSocketAddress.of(consoleSocket));
      drain(consoleChannel);
    }
    ByteBuffer out = ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8));
    while (out.hasRemaining()) {
      consoleChannel.write(out);
    }
  }

  /**
   * Reads and discards what QEMU sends to the console's client, until the channel closes: the
   * guest's output is read from the serial log instead. Without a reader QEMU stops taking the
   * guest's serial output once a client is connected (seen: a root shell's output held back for
   * five minutes, all of it in the log the moment the client went away).
   */
  private void drain(SocketChannel channel) {
    Thread t =
        new Thread(
            () -> {
              ByteBuffer sink = ByteBuffer.allocate(8192);
              try {
                while (channel.read(sink.clear()) >= 0) {
                  // discarded
                }
              } catch (IOException e) {
                // closed by close(): nothing more to read
              }
            },
            "console-" + name);
    t.setDaemon(true);
    t.start();
  }

  /** What a {@link #shell} command printed and its exit status. */
  public record Shell(int rc, String out) {}

  /** Seconds since this VM's QEMU started. */
  public double elapsedSeconds() {
    return (System.nanoTime() - startNanos) / 1e9;
  }

  /** Waits for QEMU to exit (the guest powered off or rebooted) and returns its exit code. */
  public int waitForExit(Duration timeout) {
    return process.waitFor(timeout);
  }

  /** Stops QEMU (TERM, then KILL) if it still runs, which frees its slot. Idempotent. */
  @Override
  public synchronized void close() {
    if (consoleChannel != null) {
      try {
        consoleChannel.close();
      } catch (IOException e) {
        // QEMU is stopped next either way.
      }
      consoleChannel = null;
    }
    if (process.isAlive()) {
      process.kill(Signal.TERM);
      if (!waitGone(Lab.TERM_GRACE)) {
        process.kill(Signal.KILL);
        waitGone(Lab.TERM_GRACE);
      }
    }
  }

  @Override
  public String toString() {
    return "QemuVm[" + name + ", " + firmware + ", " + mac + ", tap " + tap + "]";
  }

  private String tail(int from) {
    String log = serialLog();
    return log.length() > from ? log.substring(from) : "";
  }

  private Optional<String> findLine(String marker) {
    return serialLog()
        .lines()
        .filter(l -> l.contains(marker))
        .findFirst()
        .map(l -> l.substring(l.indexOf(marker)).strip());
  }

  private boolean waitGone(Duration bound) {
    try {
      Awaitility.await()
          .atMost(bound)
          .pollInterval(Duration.ofMillis(50))
          .pollInSameThread()
          .until(() -> !process.isAlive());
      return true;
    } catch (ConditionTimeoutException e) {
      return false;
    }
  }

  private void releaseSlot() {
    if (slotHeld.compareAndSet(true, false)) {
      SLOTS.release();
    }
  }

  private String describe() {
    List<String> serial = serialLog().lines().toList();
    return "\n--- end of "
        + serialLog
        + ":\n"
        + String.join("\n", serial.subList(Math.max(0, serial.size() - 30), serial.size()))
        + "\n--- end of "
        + process.logPath()
        + ":\n"
        + process.tail(20);
  }
}
