package org.clonecast.common.api;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/**
 * {@code POST /agent/v1/register}: the node introduces itself; the answer is an {@link Assignment}.
 *
 * @param mac the node's MAC, as in its netboot script
 * @param disks its disks (empty when it reports none)
 * @param cpus processors (0 when unknown)
 * @param memoryBytes memory (0 when unknown)
 */
public record RegisterRequest(
    @JsonProperty(required = true) String mac, List<Disk> disks, int cpus, long memoryBytes) {
  public RegisterRequest {
    Fields.required(mac, "mac");
    disks = disks == null ? List.of() : List.copyOf(disks);
    Fields.notNegative(cpus, "cpus");
    Fields.notNegative(memoryBytes, "memoryBytes");
  }
}
