package org.clonecast.server.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class SecureBootNodesTest {
  @Test
  void offAllOrGroups() {
    assertEquals(SecureBootNodes.OFF, SecureBootNodes.parse("off"));
    assertEquals(SecureBootNodes.OFF, SecureBootNodes.parse(" "));
    assertFalse(SecureBootNodes.OFF.covers(Optional.of("rack1")));
    assertFalse(SecureBootNodes.OFF.any());
    SecureBootNodes all = SecureBootNodes.parse("all");
    assertTrue(
        all.covers(Optional.empty()), "all: also nodes without a group, and unknown machines");
    SecureBootNodes racks = SecureBootNodes.parse("rack1, gpu.a");
    assertTrue(racks.covers(Optional.of("rack1")) && racks.covers(Optional.of("gpu.a")));
    assertFalse(racks.covers(Optional.of("rack2")) || racks.covers(Optional.empty()));
    assertEquals("rack1,gpu.a", racks.toString());
  }

  @Test
  void aBadValueNamesItself() {
    assertTrue(
        assertThrows(ConfigException.class, () -> SecureBootNodes.parse("rack1,,rack2"))
            .getMessage()
            .contains("boot.secure-boot: '' is not a group name"));
    assertTrue(
        assertThrows(ConfigException.class, () -> SecureBootNodes.parse("rack1,all"))
            .getMessage()
            .contains("'all'"));
    assertTrue(
        assertThrows(ConfigException.class, () -> SecureBootNodes.parse("yes please"))
            .getMessage()
            .contains("'yes please'"));
  }

  @Test
  void readFromTheConfigFile() {
    assertEquals(
        SecureBootNodes.parse("rack1"),
        BootConfig.from(ConfigFile.of(Map.of("boot.secure-boot", "rack1"))).secureBoot());
    assertEquals(SecureBootNodes.OFF, BootConfig.from(ConfigFile.empty()).secureBoot());
  }
}
