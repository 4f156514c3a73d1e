import { useQuery } from "@tanstack/react-query";

import { api } from "@/api/client";
import type { User } from "@/types";

function displayName(user: User): string {
  return user.name || user.email;
}

export default function UserMenu() {
  const { data: user, isLoading } = useQuery({ queryKey: ["me"], queryFn: api.me });

  if (isLoading || !user) {
    return <div className="user-menu user-menu--loading" />;
  }

  return (
    <div className="user-menu">
      <span className="user-menu__name">{displayName(user)}</span>
      {user.company && <span className="user-menu__company">{user.company}</span>}
      {!user.isEmailVerified && <span className="badge badge--warning">verify your e-mail</span>}
    </div>
  );
}
