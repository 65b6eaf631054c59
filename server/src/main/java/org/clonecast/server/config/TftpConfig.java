package org.clonecast.server.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.OptionalInt;
import org.clonecast.protocol.tftp.Tftp;
import org.clonecast.protocol.tftp.TftpTransfer;

/**
 * The daemon's TFTP server (docs/tftp.md): read-only, serving {@code root} on the provisioning
 * address. Immutable.
 *
 * @param enabled whether the server runs at all
 * @param port UDP port of requests on the provisioning address (0 picks one, for tests)
 * @param root the directory served; the iPXE loaders are copied into it at start
 * @param maxBlksize the largest blksize granted; empty = the provisioning interface's MTU − 32, so
 *     that DATA is never fragmented
 * @param maxWindowsize the largest RFC 7440 windowsize granted
 * @param maxTransfers transfers at once; beyond that requests get ERROR 0 "busy"
 * @param maxPerClient transfers at once for one client address, so that one host cannot take the
 *     whole table; firmware fetches one file at a time (EDK2's tsize probe ends before it asks
 *     again)
 */
public record TftpConfig(
    boolean enabled,
    int port,
    Path root,
    OptionalInt maxBlksize,
    int maxWindowsize,
    int maxTransfers,
    int maxPerClient) {
  public static final int DEFAULT_MAX_WINDOWSIZE = 64;
  public static final int DEFAULT_MAX_TRANSFERS = 64;
  public static final int DEFAULT_MAX_PER_CLIENT = 4;

  /** Wait for an ACK before resending, unless the client asks for its own timeout (RFC 2349). */
  public static final Duration RETRANSMIT_TIMEOUT = Duration.ofSeconds(1);

  /** Resends of one window before a transfer is given up (with backoff: about 23 s of silence). */
  public static final int MAX_RETRIES = 5;

  public TftpConfig {
    Objects.requireNonNull(root, "root");
    Objects.requireNonNull(maxBlksize, "maxBlksize");
    if (port < 0 || port > 65535) {
      throw new ConfigException("tftp.port " + port + " is out of range; use 1-65535");
    }
    if (maxBlksize.isPresent()
        && (maxBlksize.getAsInt() < Tftp.MIN_BLKSIZE || maxBlksize.getAsInt() > Tftp.MAX_BLKSIZE)) {
      throw new ConfigException(
          "tftp.max-blksize " + maxBlksize.getAsInt() + " is out of range; use 8-65464");
    }
    if (maxWindowsize < 1 || maxWindowsize > TftpTransfer.Settings.WINDOWSIZE_LIMIT) {
      throw new ConfigException(
          "tftp.max-windowsize "
              + maxWindowsize
              + " is out of range; use 1-"
              + TftpTransfer.Settings.WINDOWSIZE_LIMIT);
    }
    if (maxTransfers < 1) {
      throw new ConfigException(
          "tftp.max-transfers " + maxTransfers + " is out of range; use 1 or more");
    }
    if (maxPerClient < 1) {
      throw new ConfigException(
          "tftp.max-transfers-per-client " + maxPerClient + " is out of range; use 1 or more");
    }
  }

  /**
   * The blksize cap on an interface with this MTU: IPv4 (20) and UDP (8) headers and TFTP's 4
   * bytes.
   */
  public int maxBlksizeFor(int mtu) {
    return maxBlksize.orElse(Math.max(Tftp.MIN_BLKSIZE, Math.min(Tftp.MAX_BLKSIZE, mtu - 32)));
  }

  static TftpConfig from(ConfigFile f, Path stateDir) {
    String blk = "tftp.max-blksize";
    return new TftpConfig(
        f.bool("tftp.enabled", true),
        f.integer("tftp.port", Tftp.PORT, 0, 65535),
        f.path("tftp.root").orElse(stateDir.resolve("tftp")),
        f.string(blk).isPresent()
            ? OptionalInt.of(f.integer(blk, 0, Tftp.MIN_BLKSIZE, Tftp.MAX_BLKSIZE))
            : OptionalInt.empty(),
        f.integer(
            "tftp.max-windowsize",
            DEFAULT_MAX_WINDOWSIZE,
            1,
            TftpTransfer.Settings.WINDOWSIZE_LIMIT),
        f.integer("tftp.max-transfers", DEFAULT_MAX_TRANSFERS, 1, 100_000),
        f.integer("tftp.max-transfers-per-client", DEFAULT_MAX_PER_CLIENT, 1, 100_000));
  }
}
