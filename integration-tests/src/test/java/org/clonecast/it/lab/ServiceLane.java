package org.clonecast.it.lab;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.parallel.ResourceLock;

/**
 * Marks a light test class of the boot services (DHCP, TFTP, DNS, router advertisements and their
 * abuse), the console, capture without a VM and the Debian package. These classes run one at a
 * time, beside the running class of {@link HeavyLane} and the running class of {@link LightLane}:
 * like those of {@link LightLane} they mostly wait on peers and timers, and while the heavy lane
 * runs a single VM or a real-time lab the machine has a core's worth of time to spare.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
@ResourceLock("clonecast-it-service-lane")
public @interface ServiceLane {}
