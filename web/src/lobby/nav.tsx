// The lobby's router (at the site root) and links bound to it.
import { Link as BaseLink, createRouter, type LinkProps } from "../ui/router";

export const router = createRouter("");

export function Link(props: Omit<LinkProps, "router">) {
  return <BaseLink router={router} {...props} />;
}
