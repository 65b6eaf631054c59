package org.clonecast.common.api;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;

/**
 * The answer to {@link RegisterRequest}: what the daemon wants of the node, told apart on the wire
 * by field {@code action} ({@code reimage}, {@code capture}, {@code none}, {@code fail}). An agent
 * that meets an action it does not know fails with that action's name.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, include = JsonTypeInfo.As.PROPERTY, property = "action")
@JsonSubTypes({
  @JsonSubTypes.Type(value = Assignment.Reimage.class, name = "reimage"),
  @JsonSubTypes.Type(value = Assignment.Capture.class, name = "capture"),
  @JsonSubTypes.Type(value = Assignment.None.class, name = "none"),
  @JsonSubTypes.Type(value = Assignment.Fail.class, name = "fail")
})
public sealed interface Assignment {
  /** The wire name of this action. */
  String action();

  /**
   * Receive an image from a multicast session and take on an identity.
   *
   * @param session the session, in progress and result calls
   * @param imageId the image the sender must offer (null: any; an image stored before image ids)
   * @param logicalSize the disk image's size in bytes
   * @param control the session's sender control address, {@code ip:port}
   * @param target the disk to write
   * @param hostname the node's name
   * @param domain the cluster DNS zone (null: none)
   * @param files per-node files, absolute path to text (docs/reimaging.md)
   * @param grow the session's {@code --grow}: onto a larger disk, grow the last partition and its
   *     filesystem (absent from a daemon of an earlier build: false)
   */
  record Reimage(
      @JsonProperty(required = true) long session,
      String imageId,
      long logicalSize,
      @JsonProperty(required = true) String control,
      @JsonProperty(required = true) String target,
      @JsonProperty(required = true) String hostname,
      String domain,
      Map<String, String> files,
      boolean grow)
      implements Assignment {
    public Reimage {
      Fields.id(session, "session");
      Fields.required(control, "control");
      Fields.required(target, "target");
      Fields.required(hostname, "hostname");
      Fields.notNegative(logicalSize, "logicalSize");
      files = files == null ? Map.of() : Collections.unmodifiableMap(new TreeMap<>(files));
    }

    @Override
    public String action() {
      return "reimage";
    }

    public Optional<String> imageIdIfKnown() {
      return Optional.ofNullable(imageId);
    }

    public Optional<String> domainIfAny() {
      return Optional.ofNullable(domain);
    }
  }

  /**
   * Read a disk (never write it), chunk it and upload it through the capture calls.
   *
   * @param capture the capture's id, in every capture call
   * @param image the image it becomes
   * @param imageId the UUID the manifest must carry
   * @param disk the disk to read
   * @param chunkSize logical bytes per chunk
   * @param level zstd level
   * @param force whether a filesystem that is not clean may be captured
   * @param pooled the SHA-256 digests of the stored chunks of the image this capture updates
   *     ({@code --from}), 32 bytes each, concatenated and base64-encoded (null or empty: none, or a
   *     daemon of an earlier build): the agent sends a reference instead of the bytes of a chunk
   *     whose digest is among them, and the bytes when the daemon answers that its pool lacks it
   */
  record Capture(
      @JsonProperty(required = true) long capture,
      @JsonProperty(required = true) String image,
      @JsonProperty(required = true) UUID imageId,
      @JsonProperty(required = true) String disk,
      @JsonProperty(required = true) int chunkSize,
      @JsonProperty(required = true) int level,
      boolean force,
      String pooled)
      implements Assignment {
    public Capture {
      Fields.id(capture, "capture");
      Fields.required(image, "image");
      Fields.required(imageId, "imageId");
      Fields.required(disk, "disk");
      if (chunkSize <= 0) {
        throw new InvalidBodyException("field 'chunkSize' must be positive, got " + chunkSize);
      }
      if (pooled != null && !pooled.isEmpty()) {
        pooledDigests(pooled);
      }
    }

    /** A capture of an image that updates none. */
    public Capture(
        long capture,
        String image,
        UUID imageId,
        String disk,
        int chunkSize,
        int level,
        boolean force) {
      this(capture, image, imageId, disk, chunkSize, level, force, null);
    }

    /** The digests of {@link #pooled}, each 32 bytes; empty when there are none. */
    public List<byte[]> pooledDigests() {
      return pooled == null || pooled.isEmpty() ? List.of() : pooledDigests(pooled);
    }

    private static List<byte[]> pooledDigests(String b64) {
      byte[] all;
      try {
        all = Base64.getDecoder().decode(b64);
      } catch (IllegalArgumentException e) {
        throw new InvalidBodyException("field 'pooled' is not base64: " + e.getMessage());
      }
      if (all.length % DIGEST != 0) {
        throw new InvalidBodyException(
            "field 'pooled' holds " + all.length + " bytes, not a multiple of " + DIGEST);
      }
      List<byte[]> out = new ArrayList<>(all.length / DIGEST);
      for (int i = 0; i < all.length; i += DIGEST) {
        out.add(Arrays.copyOfRange(all, i, i + DIGEST));
      }
      return out;
    }

    /** {@link #pooled} for these 32-byte digests. */
    public static String encodePooled(Collection<byte[]> digests) {
      byte[] all = new byte[digests.size() * DIGEST];
      int at = 0;
      for (byte[] d : digests) {
        if (d.length != DIGEST) {
          throw new IllegalArgumentException("a digest of " + d.length + " bytes");
        }
        System.arraycopy(d, 0, all, at, DIGEST);
        at += DIGEST;
      }
      return Base64.getEncoder().encodeToString(all);
    }

    private static final int DIGEST = 32;

    @Override
    public String action() {
      return "capture";
    }
  }

  /**
   * Nothing to do: boot the local disk.
   *
   * @param reason why (null: no session)
   */
  record None(String reason) implements Assignment {
    @Override
    public String action() {
      return "none";
    }
  }

  /**
   * The daemon failed this node.
   *
   * @param reason why
   */
  record Fail(String reason) implements Assignment {
    @Override
    public String action() {
      return "fail";
    }
  }
}
