package org.clonecast.server.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class StoreConfigTest {
  @Test
  void sqliteIsTheDefault() {
    ServeConfig c = ServeConfig.from(ConfigFile.of(Map.of("interface", "eth0")));
    assertInstanceOf(StoreConfig.Sqlite.class, c.store());
    assertInstanceOf(StoreConfig.Sqlite.class, StoreConfig.parse("sqlite"));
  }

  @Test
  void aPostgresqlUrlGivesHostPortDatabaseAndCredentials() {
    ServeConfig c =
        ServeConfig.from(
            ConfigFile.of(
                Map.of(
                    "interface",
                    "eth0",
                    "store",
                    "postgresql://cc:s%40cret:x@db1:6543/clonecast")));
    StoreConfig.Postgres pg = assertInstanceOf(StoreConfig.Postgres.class, c.store());
    assertEquals("db1", pg.host());
    assertEquals(6543, pg.port());
    assertEquals("clonecast", pg.database());
    assertEquals(Optional.of("cc"), pg.user());
    assertEquals(Optional.of("s@cret:x"), pg.password());
    assertEquals("jdbc:postgresql://db1:6543/clonecast", pg.jdbcUrl());
    assertFalse(pg.display().contains("cret"), "the password is never shown: " + pg.display());
    assertFalse(pg.toString().contains("cret"), pg.toString());

    StoreConfig.Postgres bare =
        assertInstanceOf(StoreConfig.Postgres.class, StoreConfig.parse("postgres://[::1]/cc"));
    assertEquals("::1", bare.host());
    assertEquals(5432, bare.port());
    assertEquals(Optional.empty(), bare.user());
    assertEquals("jdbc:postgresql://[::1]:5432/cc", bare.jdbcUrl());
  }

  @Test
  void aBadStoreIsNamedWithoutItsPassword() {
    for (String bad :
        new String[] {
          "mysql://u:topsecret@h/db",
          "postgresql://u:topsecret@h",
          "postgresql://u:topsecret@h/",
          "postgresql://u:topsecret@h/db?sslmode=require",
          "postgresql://u:topsecret@h:99999/db",
          "postgresql:///db",
          "/var/lib/clonecast.db"
        }) {
      ConfigException e = assertThrows(ConfigException.class, () -> StoreConfig.parse(bad), bad);
      assertFalse(e.getMessage().contains("topsecret"), e.getMessage());
      assertTrue(
          e.getMessage().contains("postgresql://") || e.getMessage().contains("port"),
          e.getMessage());
    }
  }
}
