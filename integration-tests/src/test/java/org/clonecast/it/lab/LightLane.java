package org.clonecast.it.lab;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.parallel.ResourceLock;

/**
 * Marks a test class of the multicast session labs, which mostly wait (agents in namespaces on
 * shaped wires, loop devices). These classes run one at a time, beside the running classes of
 * {@link HeavyLane} and {@link ServiceLane}; see there.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
@ResourceLock("clonecast-it-light-lane")
public @interface LightLane {}
