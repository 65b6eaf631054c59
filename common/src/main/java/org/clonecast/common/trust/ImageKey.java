package org.clonecast.common.trust;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import org.clonecast.protocol.image.Manifest;
import org.clonecast.protocol.image.ManifestSignature;
import org.clonecast.protocol.image.Sha256;

/**
 * The daemon's image signing key: an Ed25519 key pair (the JDK's), made on the daemon's first start
 * in its state directory: {@value #PRIVATE_FILE} (PKCS#8, base64, mode 0600) and {@value
 * #PUBLIC_FILE} (X.509, base64, one line, world-readable: what the netboot environment and {@code
 * clonecast-agent receive --trust} take).
 *
 * <p>Immutable and thread-safe.
 */
public final class ImageKey {
  public static final String PRIVATE_FILE = "image-key";
  public static final String PUBLIC_FILE = "image-key.pub";

  /**
   * The key before the last {@link #rotate}, kept so that nodes booted before it still verify (the
   * overlap).
   */
  public static final String PREVIOUS_FILE = "image-key.previous";

  public static final String PREVIOUS_PUBLIC_FILE = "image-key.previous.pub";

  private final PrivateKey privateKey;
  private final PublicKey publicKey;

  private ImageKey(PrivateKey privateKey, PublicKey publicKey) {
    this.privateKey = Objects.requireNonNull(privateKey);
    this.publicKey = Objects.requireNonNull(publicKey);
  }

  /** Reads the key in {@code stateDir}, making one (private half mode 0600) if there is none. */
  public static ImageKey loadOrCreate(Path stateDir) throws IOException {
    Path file = stateDir.resolve(PRIVATE_FILE);
    if (!Files.exists(file)) {
      write(stateDir, generate());
    }
    return load(stateDir);
  }

  /**
   * Reads the key in {@code stateDir}.
   *
   * @throws IOException naming the file when it is missing, unreadable or not an Ed25519 key
   */
  public static ImageKey load(Path stateDir) throws IOException {
    return load(stateDir, PRIVATE_FILE, PUBLIC_FILE);
  }

  /**
   * A key given on a command line ({@code clonecast send --sign-key}): a state directory holding
   * {@value #PRIVATE_FILE}, or a private key file with its public half in {@code FILE.pub} beside
   * it.
   */
  public static ImageKey loadFrom(Path dirOrFile) throws IOException {
    if (Files.isDirectory(dirOrFile)) return load(dirOrFile);
    if (!Files.isRegularFile(dirOrFile)) throw new IOException("no such file or directory");
    Path dir = dirOrFile.toAbsolutePath().getParent();
    String name = dirOrFile.getFileName().toString();
    if (!Files.isRegularFile(dir.resolve(name + ".pub"))) {
      throw new IOException(
          "its public half "
              + dir.resolve(name + ".pub")
              + " is missing (a key pair is two files: KEY and KEY.pub)");
    }
    return load(dir, name, name + ".pub");
  }

  /** The previous key (kept by {@link #rotate}), if there is one. */
  public static Optional<ImageKey> loadPrevious(Path stateDir) throws IOException {
    if (!Files.exists(stateDir.resolve(PREVIOUS_FILE))) return Optional.empty();
    return Optional.of(load(stateDir, PREVIOUS_FILE, PREVIOUS_PUBLIC_FILE));
  }

  /**
   * A new key: the current one becomes the previous one (a previous one before it is deleted), and
   * a new pair is written. Re-signing stored images and rebuilding the netboot environment are the
   * caller's (docs/security.md, "Rotating the image key").
   *
   * @return the new key
   */
  public static ImageKey rotate(Path stateDir) throws IOException {
    ImageKey current = load(stateDir);
    ImageKey next = generate();
    write(stateDir, current, PREVIOUS_FILE, PREVIOUS_PUBLIC_FILE);
    write(stateDir, next, PRIVATE_FILE, PUBLIC_FILE);
    return next;
  }

  /**
   * Deletes the previous key: after a compromise, or once every node has netbooted since the
   * rotation.
   */
  public static boolean forgetPrevious(Path stateDir) throws IOException {
    boolean had = Files.deleteIfExists(stateDir.resolve(PREVIOUS_FILE));
    return Files.deleteIfExists(stateDir.resolve(PREVIOUS_PUBLIC_FILE)) || had;
  }

  /**
   * The trusted-keys file for the netboot environment: the current public key, then the previous
   * one if kept, one base64 line each with a comment naming it ({@link ImageTrust#parseFile} reads
   * it).
   */
  public static String trustedKeysFile(Path stateDir) throws IOException {
    ImageKey current = load(stateDir);
    StringBuilder b =
        new StringBuilder(
            "# clonecast image keys trusted by the netboot environment (clonecast key show)\n");
    b.append("# current ")
        .append(current.fingerprint())
        .append('\n')
        .append(current.publicBase64())
        .append('\n');
    Optional<ImageKey> previous = loadPrevious(stateDir);
    if (previous.isPresent()) {
      b.append("# previous ")
          .append(previous.get().fingerprint())
          .append('\n')
          .append(previous.get().publicBase64())
          .append('\n');
    }
    return b.toString();
  }

  private static ImageKey load(Path stateDir, String privateName, String publicName)
      throws IOException {
    Path file = stateDir.resolve(privateName);
    try {
      KeyFactory f = KeyFactory.getInstance("Ed25519");
      byte[] der =
          Base64.getDecoder().decode(Files.readString(file, StandardCharsets.US_ASCII).trim());
      PrivateKey priv = f.generatePrivate(new PKCS8EncodedKeySpec(der));
      PublicKey pub =
          TrustedKey.parse(
              Files.readString(stateDir.resolve(publicName), StandardCharsets.US_ASCII).trim());
      ImageKey k = new ImageKey(priv, pub);
      // A key file and a public file of different pairs would sign what nobody can verify.
      ManifestSignature probe = k.sign(probeManifest());
      if (probe.problem(probeManifest(), pub).isPresent()) {
        throw new IOException(
            stateDir.resolve(publicName)
                + " is not the public half of "
                + file
                + "; restore the pair or run 'clonecast key rotate'");
      }
      return k;
    } catch (GeneralSecurityException | IllegalArgumentException e) {
      throw new IOException(
          file
              + " is not an Ed25519 private key ("
              + e.getMessage()
              + "); restore it or run 'clonecast key rotate'",
          e);
    }
  }

  /** A new key pair. */
  public static ImageKey generate() {
    try {
      KeyPair p = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
      return new ImageKey(p.getPrivate(), p.getPublic());
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("this JDK has no Ed25519", e);
    }
  }

  /**
   * Writes {@code key} into {@code stateDir}, replacing what is there (each file written whole,
   * then renamed into place).
   */
  public static void write(Path stateDir, ImageKey key) throws IOException {
    write(stateDir, key, PRIVATE_FILE, PUBLIC_FILE);
  }

  private static void write(Path stateDir, ImageKey key, String privateName, String publicName)
      throws IOException {
    Path tmp = stateDir.resolve(privateName + ".tmp");
    Files.deleteIfExists(tmp);
    Files.createFile(
        tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    Files.writeString(
        tmp,
        Base64.getEncoder().encodeToString(key.privateKey.getEncoded()) + "\n",
        StandardOpenOption.WRITE);
    Path pubTmp = stateDir.resolve(publicName + ".tmp");
    Files.writeString(pubTmp, key.publicBase64() + "\n");
    Files.move(
        pubTmp,
        stateDir.resolve(publicName),
        StandardCopyOption.REPLACE_EXISTING,
        StandardCopyOption.ATOMIC_MOVE);
    try {
      Files.move(
          tmp,
          stateDir.resolve(privateName),
          StandardCopyOption.REPLACE_EXISTING,
          StandardCopyOption.ATOMIC_MOVE);
    } catch (FileAlreadyExistsException e) {
      Files.delete(tmp);
    }
  }

  public PublicKey publicKey() {
    return publicKey;
  }

  /** The public key as one base64 line (X.509 encoding). */
  public String publicBase64() {
    return Base64.getEncoder().encodeToString(publicKey.getEncoded());
  }

  /** The key id (SHA-256 of the public key) in hex: what signature blocks name. */
  public String fingerprint() {
    return HexFormat.of().formatHex(ManifestSignature.keyId(publicKey));
  }

  public ManifestSignature sign(Manifest m) {
    return ManifestSignature.sign(m, privateKey, publicKey);
  }

  private static Manifest probeManifest() {
    return new Manifest(
        new UUID(0, 0), 0, Manifest.DEFAULT_CHUNK_SIZE, List.of(), Sha256.of(new byte[32]));
  }
}
