package org.clonecast.common.api;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/**
 * One disk as the agent sees it, in {@link RegisterRequest}.
 *
 * @param path its device, e.g. /dev/sda
 * @param size bytes (0 when unknown)
 * @param removable whether the kernel calls it removable
 * @param model vendor model ("" when unknown)
 * @param serial serial number ("" when unknown)
 */
public record Disk(
    @JsonProperty(required = true) String path,
    long size,
    boolean removable,
    String model,
    String serial) {
  public Disk {
    Fields.required(path, "path");
    Fields.notNegative(size, "size");
    model = model == null ? "" : model;
    serial = serial == null ? "" : serial;
  }

  /**
   * {@code disks} as an operator reads them in an error, e.g. "/dev/sda 1000 bytes, /dev/sdb 2000
   * bytes removable"; "none" for no disks.
   */
  public static String describe(List<Disk> disks) {
    StringBuilder seen = new StringBuilder();
    for (Disk d : disks) {
      seen.append(seen.length() == 0 ? "" : ", ")
          .append(d.path())
          .append(' ')
          .append(d.size())
          .append(" bytes")
          .append(d.removable() ? " removable" : "");
    }
    return seen.length() == 0 ? "none" : seen.toString();
  }
}
