package org.clonecast.it.lab;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.parallel.ResourceLock;

/**
 * Marks a test class that must not share the machine with another heavy one: the QEMU classes (TCG
 * keeps both cores busy, and they share the cached netboot environment and golden system) and the
 * classes whose peers must keep pace in real time (async udpcast, where FEC is the only repair; a
 * late joiner's JVM start; how often a chunk is sent). They run one at a time, beside the classes
 * of {@link LightLane}, which mostly wait on shaped wires, timers and peers. Every {@code *IT}
 * class carries exactly one of the two ({@link LanesIT} checks it);
 * src/test/resources/junit-platform.properties runs two classes at a time.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
@ResourceLock("clonecast-it-heavy-lane")
public @interface HeavyLane {}
