package org.clonecast.it.lab;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.parallel.ResourceLock;

/**
 * Marks a test class that mostly waits (namespace labs on shaped wires, loop devices, the Debian
 * package). These classes run one at a time, beside the one running class of {@link HeavyLane}; see
 * there.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
@ResourceLock("clonecast-it-light-lane")
public @interface LightLane {}
