package org.clonecast.server.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ServeConfigTest {
  @TempDir Path dir;

  @Test
  void flagsOverrideTheFileAndDefaultsFillTheRest() throws Exception {
    Path f = dir.resolve("c.conf");
    Files.writeString(f, "# comment\ninterface = eth1\nhttp.port = 9090\nboot.efi-loader = snponly.efi\n");
    ServeConfig c = ServeConfig.from(ConfigFile.load(f).with(Map.of("http.port", "8081")));
    assertEquals("eth1", c.interfaceName());
    assertEquals(8081, c.http().port());
    assertEquals("snponly.efi", c.boot().efiLoader());
    assertEquals(ServeConfig.DEFAULT_STATE_DIR, c.stateDir());
  }

  @Test
  void mistakesAreNamed() throws Exception {
    ConfigException e = assertThrows(ConfigException.class,
        () -> ServeConfig.from(ConfigFile.of(Map.of("interface", "eth0", "http.prot", "1"))));
    assertTrue(e.getMessage().contains("unknown key http.prot"), e.getMessage());
    e = assertThrows(ConfigException.class,
        () -> ServeConfig.from(ConfigFile.of(Map.of("interface", "eth0", "http.port", "70000"))));
    assertTrue(e.getMessage().contains("http.port = 70000 is invalid"), e.getMessage());
    e = assertThrows(ConfigException.class, () -> ServeConfig.from(ConfigFile.empty()));
    assertTrue(e.getMessage().contains("--interface"), e.getMessage());
    e = assertThrows(ConfigException.class, () -> ConfigFile.load(dir.resolve("missing.conf")));
    assertTrue(e.getMessage().contains("not found"), e.getMessage());
  }
}
