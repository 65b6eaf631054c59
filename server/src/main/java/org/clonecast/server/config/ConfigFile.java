package org.clonecast.server.config;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The daemon's config file: {@code key = value} lines (Java properties syntax, {@code #} comments),
 * keys grouped by dots ({@code dhcp.mode}, {@code http.port}). The documented example is {@code
 * packaging/clonecast.conf}. Every key read is remembered, so a misspelt key is reported instead of
 * silently ignored ({@link #requireAllUsed()}).
 *
 * <p>Not thread-safe; used while building the config.
 */
public final class ConfigFile {
  private final String source;
  private final Map<String, String> values;
  private final Set<String> used = new TreeSet<>();

  private ConfigFile(String source, Map<String, String> values) {
    this.source = source;
    this.values = values;
  }

  /** No file: every key takes its default. */
  public static ConfigFile empty() {
    return new ConfigFile("(no config file)", new TreeMap<>());
  }

  /** Values given directly (for tests and for flags that map onto keys). */
  public static ConfigFile of(Map<String, String> values) {
    return new ConfigFile("(given)", new TreeMap<>(values));
  }

  /**
   * @throws ConfigException naming the file and the problem
   */
  public static ConfigFile load(Path file) {
    Properties p = new Properties();
    try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      p.load(r);
    } catch (NoSuchFileException e) {
      throw new ConfigException(
          "config file "
              + file
              + " not found; create it (see packaging/clonecast.conf) or drop --config");
    } catch (IOException | IllegalArgumentException e) {
      throw new ConfigException("cannot read config file " + file + ": " + e.getMessage());
    }
    Map<String, String> m = new TreeMap<>();
    for (String k : p.stringPropertyNames()) {
      m.put(k.trim(), p.getProperty(k).trim());
    }
    return new ConfigFile(file.toString(), m);
  }

  /** This file with {@code overrides} (from command-line flags) replacing its values. */
  public ConfigFile with(Map<String, String> overrides) {
    Map<String, String> m = new TreeMap<>(values);
    m.putAll(overrides);
    return new ConfigFile(source, m);
  }

  /** The raw value of {@code key}, if set. */
  public Optional<String> string(String key) {
    used.add(key);
    String v = values.get(key);
    return v == null || v.isEmpty() ? Optional.empty() : Optional.of(v);
  }

  public String string(String key, String dflt) {
    return string(key).orElse(dflt);
  }

  public int integer(String key, int dflt, int min, int max) {
    Optional<String> v = string(key);
    if (v.isEmpty()) {
      return dflt;
    }
    try {
      int i = Integer.parseInt(v.get());
      if (i < min || i > max) {
        throw bad(key, v.get(), "a number from " + min + " to " + max);
      }
      return i;
    } catch (NumberFormatException e) {
      throw bad(key, v.get(), "a number from " + min + " to " + max);
    }
  }

  public boolean bool(String key, boolean dflt) {
    Optional<String> v = string(key);
    if (v.isEmpty()) {
      return dflt;
    }
    switch (v.get().toLowerCase(Locale.ROOT)) {
      case "true", "yes", "on", "1":
        return true;
      case "false", "no", "off", "0":
        return false;
      default:
        throw bad(key, v.get(), "true or false");
    }
  }

  public Optional<Path> path(String key) {
    return string(key).map(Path::of);
  }

  /** The keys under {@code prefix} (e.g. "node." → every node.* key), for repeated entries. */
  public Set<String> keysUnder(String prefix) {
    Set<String> out = new TreeSet<>();
    for (String k : values.keySet()) {
      if (k.startsWith(prefix)) {
        out.add(k);
      }
    }
    return out;
  }

  /** A config error for {@code key}, saying what it should look like. */
  public ConfigException bad(String key, String value, String want) {
    return new ConfigException(source + ": " + key + " = " + value + " is invalid; want " + want);
  }

  /**
   * @throws ConfigException listing keys nobody read (misspelt or from another version)
   */
  public void requireAllUsed() {
    Set<String> unknown = new TreeSet<>(values.keySet());
    unknown.removeAll(used);
    if (!unknown.isEmpty()) {
      throw new ConfigException(
          source
              + ": unknown key"
              + (unknown.size() > 1 ? "s " : " ")
              + String.join(", ", unknown)
              + "; known keys: "
              + String.join(", ", used));
    }
  }
}
