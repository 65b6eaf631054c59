package org.clonecast.common.trust;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import org.clonecast.protocol.image.Manifest;
import org.clonecast.protocol.image.ManifestSignature;

/**
 * What a receiver accepts before it writes a byte (docs/security.md, "Keys"): images signed by one
 * of the {@link Keys} it trusts, or, only when the operator says so, anything ({@link
 * InsecureUnsigned}). A pure decision; immutable and thread-safe.
 */
public sealed interface ImageTrust {
  /** Where the netboot environment keeps the keys it trusts (bootenv/build.sh writes it). */
  Path BOOTENV_KEYS = Path.of("/etc/clonecast/trusted-keys");

  /**
   * Why the image with {@code manifest} and {@code signatures} must not be written, naming the key
   * or the fault; empty when it may.
   */
  Optional<String> refusal(Manifest manifest, List<ManifestSignature> signatures);

  /** Accepts an image only when one of its signatures is by one of {@code keys} and verifies. */
  record Keys(List<PublicKey> keys) implements ImageTrust {
    public Keys {
      keys = List.copyOf(keys);
      if (keys.isEmpty()) throw new IllegalArgumentException("no trusted key");
    }

    @Override
    public Optional<String> refusal(Manifest manifest, List<ManifestSignature> signatures) {
      if (signatures.isEmpty()) {
        return Optional.of(
            "the image is not signed (trusted: "
                + fingerprints()
                + "); a daemon signs what it stores, and"
                + " 'clonecast send --sign-key KEY' signs what it sends");
      }
      Optional<String> bad = Optional.empty();
      for (ManifestSignature s : signatures) {
        for (PublicKey k : keys) {
          if (!MessageDigest.isEqual(s.keyId(), ManifestSignature.keyId(k))) continue;
          Optional<String> problem = s.problem(manifest, k);
          if (problem.isEmpty()) return Optional.empty();
          bad =
              Optional.of(
                  "bad signature by the trusted key " + s.keyIdHex() + ": " + problem.get());
        }
      }
      return Optional.of(
          bad.orElseGet(
              () ->
                  "signed by an unknown key "
                      + signatures.get(0).keyIdHex()
                      + (signatures.size() > 1
                          ? " (and " + (signatures.size() - 1) + " other)"
                          : "")
                      + "; trusted: "
                      + fingerprints()));
    }

    /** The trusted keys' fingerprints (SHA-256 of each key's X.509 encoding), comma separated. */
    public String fingerprints() {
      List<String> out = new ArrayList<>();
      for (PublicKey k : keys) out.add(fingerprint(k));
      return String.join(", ", out);
    }
  }

  /**
   * Accepts any image, signed or not ({@code --insecure-unsigned}): for a segment the operator
   * trusts.
   */
  record InsecureUnsigned() implements ImageTrust {
    @Override
    public Optional<String> refusal(Manifest manifest, List<ManifestSignature> signatures) {
      return Optional.empty();
    }
  }

  /**
   * A key's fingerprint as {@code clonecast key show} prints it: SHA-256 of its X.509 encoding,
   * hex.
   */
  static String fingerprint(PublicKey key) {
    return HexFormat.of().formatHex(ManifestSignature.keyId(key));
  }

  /**
   * The keys in {@code sources}: each a file of keys (one base64 X.509 Ed25519 public key a line,
   * as {@code image-key.pub}; blank lines and {@code #} comments ignored) or one key inline.
   *
   * @throws IOException naming the source that holds no key or a line that is none
   */
  static Keys read(List<String> sources) throws IOException {
    List<PublicKey> keys = new ArrayList<>();
    for (String src : sources) {
      Path p = Path.of(src);
      if (!Files.isRegularFile(p)) {
        keys.add(TrustedKey.read(src));
        continue;
      }
      keys.addAll(parseFile(Files.readString(p, StandardCharsets.US_ASCII), src));
    }
    if (keys.isEmpty()) throw new IOException("--trust: no key given");
    return new Keys(keys);
  }

  /** The keys of a keys file's text; {@code what} names it in errors. */
  static List<PublicKey> parseFile(String text, String what) throws IOException {
    List<PublicKey> keys = new ArrayList<>();
    int n = 0;
    for (String line : text.split("\n", -1)) {
      n++;
      String l = line.strip();
      if (l.isEmpty() || l.startsWith("#")) continue;
      try {
        keys.add(TrustedKey.parse(l.split("\\s+")[0]));
      } catch (IllegalArgumentException e) {
        throw new IOException(
            what
                + " line "
                + n
                + ": "
                + e.getMessage()
                + "; want one base64 Ed25519 public key a line"
                + " ('clonecast key show')",
            e);
      }
    }
    if (keys.isEmpty())
      throw new IOException(
          what + " holds no key; want one base64 Ed25519 public key a line ('clonecast key show')");
    return keys;
  }
}
