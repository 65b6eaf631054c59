package org.clonecast.it.lab;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.parallel.ResourceLock;

/**
 * Marks a test class that boots QEMU VMs. The VM classes run one at a time (TCG already keeps both
 * cores busy, and they share the cached netboot environment and golden system), beside the classes
 * of {@link NetLane}, which mostly wait on shaped wires and timers. Every {@code *IT} class carries
 * exactly one of the two ({@link LanesIT} checks it); src/test/resources/junit-platform.properties
 * runs two classes at a time.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
@ResourceLock("clonecast-it-vm-lane")
public @interface VmLane {}
