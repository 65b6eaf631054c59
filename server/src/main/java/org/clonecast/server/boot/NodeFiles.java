package org.clonecast.server.boot;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * Per-node files the agent writes into a re-imaged system after the identity fixes: {@code
 * <dir>/all/PATH} for every node, then {@code <dir>/<node-name>/PATH} for one node (which wins over
 * {@code all}), each landing at {@code /PATH} on the node (e.g. {@code node-files/node07/etc/ motd}
 * becomes node07's {@code /etc/motd}). Text files (UTF-8) only, regular files only (a symlink is
 * refused, not followed), at most {@link #MAX_TOTAL} bytes per node: they travel in the agent's
 * assignment. Thread-safe (stateless).
 */
public final class NodeFiles {
  /** What one node's files may add up to. */
  public static final long MAX_TOTAL = 1 << 20;

  private static final Pattern NAME = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");

  private NodeFiles() {}

  /**
   * The files for {@code node}, by absolute path on the node.
   *
   * @throws IOException naming the file that is not text, not regular, or too much
   */
  public static Map<String, String> forNode(Path dir, String node) throws IOException {
    if (!NAME.matcher(node).matches()) throw new IllegalArgumentException("node name " + node);
    Map<String, String> out = new TreeMap<>();
    long[] total = {0};
    for (Path base : new Path[] {dir.resolve("all"), dir.resolve(node)}) {
      if (!Files.isDirectory(base, LinkOption.NOFOLLOW_LINKS)) continue;
      Files.walkFileTree(
          base,
          new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path f, BasicFileAttributes a) throws IOException {
              if (!a.isRegularFile()) {
                throw new IOException(
                    f + " is not a regular file; per-node files must be plain text files");
              }
              total[0] += a.size();
              if (total[0] > MAX_TOTAL) {
                throw new IOException(
                    "per-node files for "
                        + node
                        + " exceed "
                        + MAX_TOTAL
                        + " bytes; ship bigger things in the image");
              }
              byte[] bytes = Files.readAllBytes(f);
              try {
                String text =
                    StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes)).toString();
                out.put("/" + base.relativize(f).toString().replace('\\', '/'), text);
              } catch (CharacterCodingException e) {
                throw new IOException(f + " is not UTF-8 text; per-node files must be text", e);
              }
              return FileVisitResult.CONTINUE;
            }
          });
    }
    return out;
  }
}
