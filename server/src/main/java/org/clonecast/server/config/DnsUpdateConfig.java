package org.clonecast.server.config;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * RFC 2136 dynamic updates, signed with TSIG (RFC 8945), sent to a site's own DNS server when nodes
 * get, change or lose their address.
 *
 * @param server the primary server that accepts updates (IP, port 53 unless given)
 * @param zone forward zone to update, e.g. {@code cluster.example.org}
 * @param reverseZone reverse zone for PTR records, e.g. {@code 0.77.10.in-addr.arpa}; empty = no
 *     PTR
 * @param keyName the TSIG key's name, as the server knows it
 * @param keyAlgorithm TSIG algorithm, e.g. {@code hmac-sha256}
 * @param keySecret the key, base64
 */
public record DnsUpdateConfig(
    InetSocketAddress server,
    String zone,
    Optional<String> reverseZone,
    String keyName,
    String keyAlgorithm,
    String keySecret) {
  /**
   * What BIND's {@code tsig-keygen} writes: {@code key "NAME" { algorithm ALG; secret "B64"; };}.
   */
  private static final Pattern KEY_FILE =
      Pattern.compile(
          "key\\s+\"?([^\"\\s{]+)\"?\\s*\\{(?=.*?algorithm\\s+\"?([A-Za-z0-9.-]+)\"?\\s*;)(?=.*?secret\\s+\"([^\"]+)\"\\s*;)",
          Pattern.DOTALL);

  private static final Set<String> ALGORITHMS =
      Set.of("hmac-md5", "hmac-sha1", "hmac-sha224", "hmac-sha256", "hmac-sha384", "hmac-sha512");

  public DnsUpdateConfig {
    Objects.requireNonNull(server, "server");
    for (String z : reverseZone.map(r -> new String[] {zone, r}).orElse(new String[] {zone})) {
      if (!z.matches(DnsConfig.NAME_PATTERN)) {
        throw new ConfigException("dns.update zone " + z + " is not a DNS name");
      }
    }
    if (!keyName.matches(DnsConfig.NAME_PATTERN)) {
      throw new ConfigException(
          "dns.update.key-name "
              + keyName
              + " is not a DNS name (BIND key names like ddns-key.cluster are)");
    }
    if (!ALGORITHMS.contains(keyAlgorithm)) {
      throw new ConfigException(
          "dns.update.key-algorithm "
              + keyAlgorithm
              + " is not supported; use one of "
              + String.join(", ", new TreeSet<>(ALGORITHMS)));
    }
    try {
      if (Base64.getDecoder().decode(keySecret).length == 0) {
        throw new IllegalArgumentException("empty");
      }
    } catch (IllegalArgumentException e) {
      throw new ConfigException(
          "the TSIG secret of key "
              + keyName
              + " is not base64; copy it from tsig-keygen's output");
    }
  }

  /** Empty unless {@code dns.update.server} is set; then the zone and a key are required. */
  static Optional<DnsUpdateConfig> from(ConfigFile f) {
    Optional<String> server = f.string("dns.update.server");
    Optional<String> zone = f.string("dns.update.zone");
    Optional<String> reverse = f.string("dns.update.reverse-zone");
    Optional<String> keyName = f.string("dns.update.key-name");
    Optional<String> algorithm = f.string("dns.update.key-algorithm");
    Optional<String> secret = f.string("dns.update.key-secret");
    Optional<Path> keyFile = f.path("dns.update.key-file");
    if (server.isEmpty()) {
      if (zone.isPresent()
          || reverse.isPresent()
          || keyName.isPresent()
          || algorithm.isPresent()
          || secret.isPresent()
          || keyFile.isPresent()) {
        throw new ConfigException(
            "dns.update.* is set but dns.update.server is not; set the server that accepts the updates");
      }
      return Optional.empty();
    }
    String z =
        zone.orElseThrow(
            () ->
                new ConfigException(
                    "dns.update.server is set but dns.update.zone is not; name the zone to update"));
    String name;
    String alg;
    String sec;
    if (keyFile.isPresent()) {
      if (secret.isPresent()) {
        throw new ConfigException("set dns.update.key-file or dns.update.key-secret, not both");
      }
      String[] k = readKeyFile(keyFile.get());
      name = keyName.orElse(k[0]);
      alg = algorithm.orElse(k[1]);
      sec = k[2];
    } else {
      name =
          keyName.orElseThrow(
              () ->
                  new ConfigException(
                      "dns.update.server is set but no TSIG key; set dns.update.key-file (tsig-keygen output) or dns.update.key-name and key-secret"));
      sec =
          secret.orElseThrow(
              () ->
                  new ConfigException(
                      "dns.update.key-name is set but dns.update.key-secret is not"));
      alg = algorithm.orElse("hmac-sha256");
    }
    return Optional.of(
        new DnsUpdateConfig(
            DnsConfig.hostPort(f, "dns.update.server", server.get()),
            trimDot(z),
            reverse.map(DnsUpdateConfig::trimDot),
            trimDot(name),
            alg.toLowerCase(Locale.ROOT),
            sec));
  }

  /** Name, algorithm and secret of the first key in a BIND key file. */
  static String[] readKeyFile(Path file) {
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new ConfigException("cannot read dns.update.key-file " + file + ": " + e.getMessage());
    }
    Matcher m = KEY_FILE.matcher(text);
    if (!m.find()) {
      throw new ConfigException(
          "dns.update.key-file "
              + file
              + " holds no key; want BIND syntax: key \"NAME\" { algorithm hmac-sha256; secret \"BASE64\"; }; (tsig-keygen NAME)");
    }
    return new String[] {m.group(1), m.group(2), m.group(3)};
  }

  private static String trimDot(String s) {
    return s.toLowerCase(Locale.ROOT).replaceAll("\\.$", "");
  }
}
