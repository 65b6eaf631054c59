package org.clonecast.agent.receive;

import static org.awaitility.Awaitility.await;

import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.time.Duration;

/** Ports on loopback for the in-process driver tests. */
public final class LoopbackPorts {
  private LoopbackPorts() {}

  /**
   * Waits (at most 10 s) until nothing is bound to {@code port} on loopback any more: UDP, and TCP
   * too when {@code tcp}. A session that ended must have closed its sockets.
   */
  public static void awaitFree(int port, boolean tcp) {
    InetAddress lo = InetAddress.getLoopbackAddress();
    await()
        .atMost(Duration.ofSeconds(10))
        .ignoreExceptions()
        .until(
            () -> {
              try (DatagramSocket u = new DatagramSocket(new InetSocketAddress(lo, port))) {
                if (tcp) new ServerSocket(port, 1, lo).close();
                return true;
              }
            });
  }
}
