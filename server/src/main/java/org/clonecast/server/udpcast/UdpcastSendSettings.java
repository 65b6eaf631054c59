package org.clonecast.server.udpcast;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import org.clonecast.protocol.udpcast.UdpcastFecSpec;

/**
 * One udpcast-compatible send, validated here and built by the CLI.
 *
 * @param portbase receivers listen on it, the sender on portbase+1 (udpcast: even, default 9000)
 * @param rateBitsPerSecond upper bound; the pacer adapts below it to the receivers' retransmit
 *     ratio
 * @param sliceBlocks blocks per slice, 1…1024 (stock full duplex: 112)
 * @param pointToPoint unicast to a single receiver, as stock does (never in async mode)
 * @param fec FEC blocks after each slice ({@code --fec SxR/Z}), if any
 * @param async passive receivers at a fixed rate; {@code maxWait} is then how long HELLO goes out
 *     before the start
 */
public record UdpcastSendSettings(
    String interfaceName,
    int portbase,
    long rateBitsPerSecond,
    int minReceivers,
    Duration maxWait,
    Duration receiverTimeout,
    int sliceBlocks,
    boolean pointToPoint,
    Optional<UdpcastFecSpec> fec,
    boolean async) {

  public UdpcastSendSettings {
    Objects.requireNonNull(interfaceName, "interfaceName");
    if (portbase < 1 || portbase > 65534 || portbase % 2 != 0) {
      throw new IllegalArgumentException(
          "--portbase "
              + portbase
              + ": want an even port in 2..65534 (receivers use it, the sender the next one)");
    }
    if (rateBitsPerSecond < 8_000_000L)
      throw new IllegalArgumentException(
          "rate " + rateBitsPerSecond / 1e6 + " Mbit/s too low; use at least 8");
    if (minReceivers < 1 || minReceivers > 1024)
      throw new IllegalArgumentException("--min-receivers " + minReceivers + ", want 1..1024");
    if (sliceBlocks < 1 || sliceBlocks > 1024)
      throw new IllegalArgumentException("slice size " + sliceBlocks + " blocks, want 1..1024");
    if (receiverTimeout.isNegative() || receiverTimeout.isZero())
      throw new IllegalArgumentException("--receiver-timeout must be positive");
    fec.ifPresent(
        f -> {
          if (sliceBlocks > f.sliceBlocks()) {
            throw new IllegalArgumentException(
                "--slice-blocks "
                    + sliceBlocks
                    + " exceeds what --fec "
                    + f
                    + " covers ("
                    + f.sliceBlocks()
                    + ")");
          }
        });
  }
}
