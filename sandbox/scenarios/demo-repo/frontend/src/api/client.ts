import type { License, Paginated, User } from "@/types";

async function getJson<T>(path: string): Promise<T> {
  const response = await fetch(path, { credentials: "include", headers: { Accept: "application/json" } });
  if (!response.ok) {
    throw new Error(`${path}: ${response.status} ${response.statusText}`);
  }
  return (await response.json()) as T;
}

export const api = {
  me: () => getJson<User>("/api/v1/users/me"),
  licenses: (page = 1) => getJson<Paginated<License>>(`/api/v1/licenses?page=${page}`),
};
