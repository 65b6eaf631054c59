package org.clonecast.common.net;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class TransportTest {
  private final String before = System.getProperty(Transport.NETTY_JFR);

  @AfterEach
  void restore() {
    if (before == null) System.clearProperty(Transport.NETTY_JFR);
    else System.setProperty(Transport.NETTY_JFR, before);
  }

  @Test
  void nettysJfrEventsAreOffUnlessTheCommandLineAsksForThem() {
    System.clearProperty(Transport.NETTY_JFR);
    Transport.noJfrEventsUnlessAsked();
    assertEquals("false", System.getProperty(Transport.NETTY_JFR));

    System.setProperty(Transport.NETTY_JFR, "true"); // -Dio.netty.jfr.enabled=true
    Transport.noJfrEventsUnlessAsked();
    assertEquals("true", System.getProperty(Transport.NETTY_JFR));
  }
}
