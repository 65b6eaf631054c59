package org.clonecast.server.store;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.clonecast.common.image.ChunkSource;
import org.clonecast.common.trust.ImageKey;
import org.clonecast.protocol.image.ChunkEntry;
import org.clonecast.protocol.image.MalformedImageException;
import org.clonecast.protocol.image.Manifest;
import org.clonecast.protocol.image.ManifestSignature;
import org.clonecast.protocol.image.Sha256;

/**
 * An image of the store whose chunks live in the {@link ChunkPool}: its manifest file {@code
 * <name>.ccm} holds the encoded manifest and, when signed, its signature block (the bytes a {@code
 * .cci} holds at its manifest offset), and the pool holds every stored chunk by its digest. The
 * manifest's stored offsets are those the chunks have in the image's {@code .cci} form, so a
 * receiver cannot tell the two apart. While open, its chunks are held from the pool's sweep, so a
 * session goes on sending an image removed meanwhile (as an open {@code .cci} outlives its unlink).
 *
 * <p>Thread-safe: any number of threads may read chunks at once.
 */
public final class PooledImage implements ChunkSource {
  private final Path file;
  private final Manifest manifest;
  private final Optional<ManifestSignature> signature;
  private final ChunkPool pool;
  private final ChunkPool.Hold hold;

  private PooledImage(
      Path file, Manifest manifest, Optional<ManifestSignature> signature, ChunkPool pool) {
    this.file = file;
    this.manifest = manifest;
    this.signature = signature;
    this.pool = pool;
    this.hold = pool.hold();
    hold.holdAll(digests(manifest));
  }

  /**
   * Opens the image whose manifest file is {@code file}.
   *
   * @throws MalformedImageException when the file is not a manifest, naming it
   */
  public static PooledImage open(Path file, ChunkPool pool) throws IOException {
    Signed s = read(file);
    return new PooledImage(file, s.manifest(), s.signature(), pool);
  }

  /** A manifest file's manifest and signature. */
  public record Signed(Manifest manifest, Optional<ManifestSignature> signature) {}

  /**
   * Reads a manifest file.
   *
   * @throws MalformedImageException when it is not one, the message starting with the path
   */
  public static Signed read(Path file) throws IOException {
    byte[] b = Files.readAllBytes(file);
    try {
      ByteBuf in = Unpooled.wrappedBuffer(b);
      Manifest m = Manifest.decode(in);
      Optional<ManifestSignature> sig = ManifestSignature.decode(in);
      return new Signed(m, sig);
    } catch (MalformedImageException e) {
      throw new MalformedImageException(file + ": " + e.getMessage(), e);
    }
  }

  /**
   * Writes a manifest file: to a temporary name, fsync'd, renamed over {@code file} and the
   * directory fsync'd, so {@code file} holds the old manifest or the new one, whole.
   */
  public static void write(Path file, Manifest m, Optional<ManifestSignature> signature)
      throws IOException {
    ChunkPool.replace(
        file,
        file.resolveSibling(file.getFileName() + ".tmp"),
        ByteBuffer.wrap(ManifestSignature.encodeSigned(m, signature)));
    ChunkPool.syncDirectory(file.toAbsolutePath().getParent());
  }

  /** Signs the manifest file {@code file} with {@code key} (a key rotation); returns the block. */
  public static ManifestSignature sign(Path file, ImageKey key) throws IOException {
    Manifest m = read(file).manifest();
    ManifestSignature sig = key.sign(m);
    write(file, m, Optional.of(sig));
    return sig;
  }

  /** The digests of {@code m}'s stored chunks, which the pool must hold. */
  public static List<Sha256> digests(Manifest m) {
    return m.chunks().stream().filter(e -> e.kind().isStored()).map(ChunkEntry::sha256).toList();
  }

  /** The manifest file. */
  public Path file() {
    return file;
  }

  @Override
  public Manifest manifest() {
    return manifest;
  }

  @Override
  public Optional<ManifestSignature> signature() {
    return signature;
  }

  @Override
  public int readStored(int index, ByteBuffer dst) throws IOException {
    ChunkEntry e = manifest.chunk(index);
    if (!e.kind().isStored()) {
      return 0;
    }
    pool.read(e.sha256(), e.storedLength(), dst);
    return e.storedLength();
  }

  @Override
  public void close() {
    hold.close();
  }
}
