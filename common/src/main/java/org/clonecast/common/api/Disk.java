package org.clonecast.common.api;

import com.fasterxml.jackson.annotation.JsonProperty;

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
}
