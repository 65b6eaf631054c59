package org.clonecast.server.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TftpConfigTest {

  @Test
  void defaultsFollowTheStateDirAndTheMtu() {
    ServeConfig c =
        ServeConfig.from(ConfigFile.of(Map.of("interface", "eth0", "state-dir", "/srv/cc")));
    TftpConfig t = c.tftp();
    assertTrue(t.enabled());
    assertEquals(69, t.port());
    assertEquals(Path.of("/srv/cc/tftp"), t.root());
    assertEquals(1468, t.maxBlksizeFor(1500));
    assertEquals(8968, t.maxBlksizeFor(9000));
    assertEquals(65464, t.maxBlksizeFor(65536), "loopback's MTU is capped at the RFC 2348 maximum");
    assertEquals(64, t.maxWindowsize());
    assertEquals(64, t.maxTransfers());
    assertEquals(4, t.maxPerClient());
  }

  @Test
  void keysOverrideDefaults() {
    TftpConfig t =
        ServeConfig.from(
                ConfigFile.of(
                    Map.of(
                        "interface",
                        "eth0",
                        "tftp.enabled",
                        "no",
                        "tftp.port",
                        "1069",
                        "tftp.root",
                        "/srv/tftp",
                        "tftp.max-blksize",
                        "1408",
                        "tftp.max-windowsize",
                        "16",
                        "tftp.max-transfers",
                        "5",
                        "tftp.max-transfers-per-client",
                        "2")))
            .tftp();
    assertFalse(t.enabled());
    assertEquals(1069, t.port());
    assertEquals(Path.of("/srv/tftp"), t.root());
    assertEquals(1408, t.maxBlksizeFor(1500));
    assertEquals(16, t.maxWindowsize());
    assertEquals(5, t.maxTransfers());
    assertEquals(2, t.maxPerClient());
  }

  @Test
  void badValuesAreNamed() {
    for (String[] kv :
        new String[][] {
          {"tftp.max-blksize", "7"},
          {"tftp.max-windowsize", "40000"},
          {"tftp.max-transfers", "0"},
          {"tftp.max-transfers-per-client", "0"},
          {"tftp.port", "65536"},
          {"tftp.enabled", "maybe"}
        }) {
      ConfigException e =
          assertThrows(
              ConfigException.class,
              () -> ServeConfig.from(ConfigFile.of(Map.of("interface", "eth0", kv[0], kv[1]))));
      assertTrue(e.getMessage().contains(kv[0] + " = " + kv[1] + " is invalid"), e.getMessage());
    }
  }
}
