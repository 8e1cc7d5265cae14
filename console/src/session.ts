import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { User } from './types.ts';

export const UserContext = createContext<User | null>(null);

/** Admins see action buttons; viewers do not (and the API refuses them anyway). */
export function useIsAdmin(): boolean {
  return useContext(UserContext)?.role === 'admin';
}
